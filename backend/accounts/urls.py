from django.urls import path

from accounts.apis import AccountRegisterApi, MeApi, TokenCreateApi

urlpatterns = [
    path("useradd/", AccountRegisterApi.as_view(), name="useradd"),
    path("auth/token/", TokenCreateApi.as_view(), name="auth-token"),
    path("auth/me/", MeApi.as_view(), name="auth-me"),
]
