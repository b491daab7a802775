"""A small API used only by the transaction tests: each call writes a row, then answers."""

from django.urls import path
from django.utils.timezone import now
from django_celery_beat.models import IntervalSchedule
from rest_framework.response import Response
from rest_framework.views import APIView

from core.exceptions import ApplicationError
from robots.models import Robot


class WriteThenAnswerApi(APIView):
    roles = ("sales",)

    def post(self, request, outcome: str):
        schedule = IntervalSchedule.objects.create(every=len(outcome), period="seconds")
        if outcome == "created":
            return Response({"id": schedule.pk}, status=201)
        if outcome == "refused":
            raise ApplicationError("Refused after the write.", code="late")
        if outcome == "conflict":
            return Response({"code": "conflict", "detail": "decided late"}, status=409)
        if outcome == "dangling":  # a deferred foreign key: PostgreSQL checks it at the commit
            Robot.objects.create(robot_version_id=2**62, serial="R2-D2", model="R2", version="D2", created=now())
            return Response({"id": schedule.pk}, status=201)
        return Response({"id": object()}, status=201)  # "unrenderable": a 2xx that cannot be rendered


urlpatterns = [path("writes/<str:outcome>/", WriteThenAnswerApi.as_view())]
