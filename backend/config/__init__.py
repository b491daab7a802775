"""The R4C Django project; the Celery app is loaded with it so tasks can be enqueued."""

from config.celery import app as celery_app

__all__ = ("celery_app",)
