"""Account routes under /api/v1/."""

from django.urls import path

from accounts.apis import MeApi, TokenCreateApi

urlpatterns = [
    path("auth/token/", TokenCreateApi.as_view(), name="auth-token"),
    path("auth/me/", MeApi.as_view(), name="auth-me"),
]
