"""The Celery application: settings come from Django's (CELERY_* names), tasks from each app."""

import os

from celery import Celery
from celery.contrib.django.task import DjangoTask
from celery.signals import setup_logging
from celery.worker.request import Request

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


class TracedRequest(Request):
    """A worker's consumer writes "Task ... received" right after building this request, before
    any task runs: the request id the message carries (django-guid's header) is remembered
    here, so that line has it too (core.logging.ContextFilter)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from django_guid.config import settings as guid_settings

        from core.logging import remember_request_id

        remember_request_id(self.id, self.request_dict.get(guid_settings.guid_header_name))


class Task(DjangoTask):
    Request = TracedRequest


app = Celery("r4c", task_cls=Task)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect
def use_django_logging(**kwargs) -> None:
    """Workers and beat log through Django's LOGGING, like the web process."""
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)
