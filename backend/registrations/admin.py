from django.contrib import admin

from registrations.models import RegistrationRequest


@admin.register(RegistrationRequest)
class RegistrationRequestAdmin(admin.ModelAdmin):
    """The registration request log: an audit trail, so it can be read and searched, never edited."""

    list_display = ("created_at", "status_code", "outcome", "login", "email_masked", "phone_masked", "client_address")
    list_filter = ("outcome", "status_code", "created_at")
    search_fields = ("login", "request_id", "client_address")
    date_hierarchy = "created_at"
    list_select_related = ("user",)
    readonly_fields = [field.name for field in RegistrationRequest._meta.fields]
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
