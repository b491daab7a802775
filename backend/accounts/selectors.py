"""Account reads for the apps above accounts."""

from django.contrib.auth import get_user_model

User = get_user_model()


def user_exists(*, user_id: int) -> bool:
    return User.objects.filter(pk=user_id).exists()


def user_id_by_login(*, login: str) -> int | None:
    """The id of the account whose login is exactly `login`, or None."""
    return User.objects.filter(username=login).values_list("pk", flat=True).first()
