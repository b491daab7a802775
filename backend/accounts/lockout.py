"""Sign-in lockout (django-axes): whom it counts, and what a locked-out client is answered.

The counting is axes' own (settings AXES_*): failed sign-ins per client address, through
the sign-in form, the admin and POST /api/v1/auth/token/ alike.
"""

import ipaddress

from axes.helpers import get_cool_off
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from accounts.throttling import client_address

LOCKED_OUT_STATUS = 429
ATTEMPT_USERNAME_LENGTH = 255  # axes.models.AccessBase.username


def client_ip(request: HttpRequest) -> str:
    """The address axes counts failures against (AXES_CLIENT_IP_CALLABLE): the throttles'
    address when it is an IP address (axes stores it in an inet column), else the peer's."""
    address = client_address(request)
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return request.META.get("REMOTE_ADDR", "")


def attempted_username(request: HttpRequest, credentials: dict | None = None) -> str:
    """AXES_USERNAME_CALLABLE: the username a sign-in tried (axes' own rule: the credentials,
    else the form), cut to the 255 characters axes stores (its access-attempt and failure-log
    columns are varchar(255); a longer name was a 500). No account's name is that long (ours
    have at most 150), so cutting only merges names that cannot sign in anyway."""
    field = settings.AXES_USERNAME_FORM_FIELD
    username = (credentials or {}).get(field) if credentials else request.POST.get(field)
    return str(username or "")[:ATTEMPT_USERNAME_LENGTH]


def lockout_message(minutes: int) -> str:
    return f"Too many failed sign-ins from your address; try again in {minutes} minutes."


def lockout_response(request: HttpRequest, original_response=None, credentials=None) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: a 429 with Retry-After, in the API's error shape under /api/,
    otherwise the sign-in form saying why."""
    cool_off = get_cool_off(request)
    seconds = int(cool_off.total_seconds()) if cool_off else 0
    message = lockout_message(max(1, seconds // 60))
    if request.path.startswith("/api/"):
        response = JsonResponse({"code": "locked_out", "detail": message}, status=LOCKED_OUT_STATUS)
    else:
        form = AuthenticationForm(request, data={"username": request.POST.get("username", "")})
        form.errors.clear()  # only the lockout is worth saying (no password was checked)
        form.add_error(None, message)
        response = render(request, "accounts/login.html", {"form": form}, status=LOCKED_OUT_STATUS)
    if seconds:
        response["Retry-After"] = str(seconds)
    return response
