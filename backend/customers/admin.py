from django.contrib import admin

from core.admin import JobAdmin
from customers.models import Customer, CustomerImport
from customers.services import customer_import_retry


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ("id", "email", "phone_number", "operator_code", "tag", "timezone", "created_at")
    list_filter = ("tag", "operator_code")
    search_fields = ("email", "phone_number", "tag")
    readonly_fields = ("created_at", "updated_at")


@admin.register(CustomerImport)
class CustomerImportAdmin(JobAdmin):
    list_display = ("id", "file_name", "status", "total", "processed", "created", "updated", "failed", "created_at")
    list_filter = ("status", "file_format")
    readonly_fields = [field.name for field in CustomerImport._meta.fields]

    def retry_job(self, job: CustomerImport) -> bool:
        return customer_import_retry(customer_import=job)
