"""The filters of the mailing lists and statistics: one FilterSet each, a bad value a 400."""

import django_filters

from core.filters import IdFilter
from mailings.models import Mailing, MailingStatus, Message, MessageStatus


class MailingFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=MailingStatus.choices)

    class Meta:
        model = Mailing
        fields = ["status"]


class MessageFilter(django_filters.FilterSet):
    mailing = IdFilter(field_name="mailing_id", help_text="A mailing's id.")
    customer = IdFilter(field_name="customer_id", help_text="A customer's id.")
    status = django_filters.ChoiceFilter(choices=MessageStatus.choices)

    class Meta:
        model = Message
        fields = ["mailing", "customer", "status"]
