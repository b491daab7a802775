from django.contrib import admin

from customers.models import Customer


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ("id", "email", "phone_number", "operator_code", "tag", "timezone", "created_at")
    list_filter = ("tag", "operator_code")
    search_fields = ("email", "phone_number", "tag")
    readonly_fields = ("created_at", "updated_at")
