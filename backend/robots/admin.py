from django.contrib import admin

from robots.models import Robot, RobotModel, RobotVersion


class RobotVersionInline(admin.TabularInline):
    model = RobotVersion
    extra = 0


@admin.register(RobotModel)
class RobotModelAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "created_at")
    search_fields = ("code", "name")
    inlines = [RobotVersionInline]


@admin.register(Robot)
class RobotAdmin(admin.ModelAdmin):
    list_display = ("id", "serial", "model", "version", "created", "created_at")
    list_filter = ("model", "version", ("created", admin.DateFieldListFilter))
    search_fields = ("serial",)
    date_hierarchy = "created"
    list_select_related = True
    raw_id_fields = ("robot_version",)
    show_full_result_count = False  # counting millions of robots on every page is slow
