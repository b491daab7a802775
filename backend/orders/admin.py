from django.contrib import admin

from orders.models import Order


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ("id", "customer", "robot_serial", "status", "robot", "created_at", "notified_at")
    list_filter = ("status", "robot_serial")
    search_fields = ("customer__email", "robot_serial")
    list_select_related = ("customer",)
    raw_id_fields = ("customer", "robot")
    readonly_fields = ("robot", "status", "notified_at", "cancelled_at")
