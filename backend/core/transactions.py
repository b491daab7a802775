"""No write before the answer is known: an API request that may write runs in one
transaction, which commits only once its answer is a rendered 2xx.

A request is then either refused with nothing written, or written and answered with
success: a response that fails to render, a 4xx or 5xx decided after a service wrote, an
exception in the view, all roll the writes back. Work queued with `transaction.on_commit`
(Celery tasks) is queued only on that commit. Services keep their own `atomic` blocks,
which become savepoints inside this one.
"""

import logging

from django.db import DataError, IntegrityError, InterfaceError, OperationalError, transaction
from django.http import HttpRequest, HttpResponse
from rest_framework.views import APIView

logger = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


class ApiWriteTransactionMiddleware:
    """Wraps each DRF view called with a method that may write in `transaction.atomic()`.

    Listed late in MIDDLEWARE, so it wraps the view alone (the useradd request log, written
    by an outer middleware after the answer, is written whatever becomes of the request).
    A view whose refusals must leave a record says `atomic_request = False`: the token
    endpoint, whose failed sign-ins django-axes counts in the database while answering 401.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs) -> HttpResponse | None:
        view_class = getattr(view_func, "cls", None)
        if request.method in SAFE_METHODS or not (isinstance(view_class, type) and issubclass(view_class, APIView)):
            return None
        if not getattr(view_class, "atomic_request", True):
            return None
        entered = False
        try:
            with transaction.atomic():
                entered = True
                response = view_func(request, *view_args, **view_kwargs)
                if hasattr(response, "render") and callable(response.render):
                    response = response.render()  # an answer that cannot be rendered is no answer
                if not 200 <= response.status_code < 300:
                    transaction.set_rollback(True)
        except (OperationalError, InterfaceError):
            if entered:  # the commit failed: whether it happened is unknown, the caller retries
                logger.warning("commit failed: database unavailable", exc_info=True)
                from core.exceptions import service_unavailable_response

                return service_unavailable_response()
        except (IntegrityError, DataError) as exc:
            if not entered:
                raise
            # A deferred constraint (foreign keys are) fired at the commit: nothing was
            # written, and the answer names the field as for any other violation.
            from core.exceptions import database_error_response

            return database_error_response(exc)
        if not entered:
            # The database is away: the view's own first query fails the same way and is
            # answered by the exception handler (a 503, and whatever the view records of it).
            logger.warning("no transaction for %s %s: database unavailable", request.method, request.path)
            return view_func(request, *view_args, **view_kwargs)
        return response
