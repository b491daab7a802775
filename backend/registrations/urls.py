"""Registration routes under /api/v1/."""

from django.urls import path

from registrations.apis import AccountRegisterApi

urlpatterns = [
    path("useradd/", AccountRegisterApi.as_view(), name="useradd"),
]
