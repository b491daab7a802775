from django.contrib import admin

from core.models import IdempotencyKey


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(admin.ModelAdmin):
    list_display = ("key", "owner", "response_status", "created_at", "expires_at")
    search_fields = ("key",)
    readonly_fields = [field.name for field in IdempotencyKey._meta.fields]
