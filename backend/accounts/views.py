"""The accounts pages (server-rendered, no JavaScript): sign-in and sign-out."""

from django.contrib.auth import views as auth_views
from django.shortcuts import render


class LoginView(auth_views.LoginView):
    """Django's sign-in form; django-axes refuses an address that keeps guessing passwords
    (accounts.lockout)."""

    template_name = "accounts/login.html"
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    """POST signs out (Django's rule: a link must not sign anyone out); GET asks first."""

    http_method_names = ["get", "head", "post", "options"]
    template_name = "accounts/logout.html"

    def get(self, request, *args, **kwargs):
        return render(request, self.template_name)
