"""A small API used only by the transaction tests: each call writes a row, then answers."""

from django.urls import path
from django_celery_beat.models import IntervalSchedule
from rest_framework.response import Response
from rest_framework.views import APIView

from core.exceptions import ApplicationError


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
        return Response({"id": object()}, status=201)  # "unrenderable": a 2xx that cannot be rendered


urlpatterns = [path("writes/<str:outcome>/", WriteThenAnswerApi.as_view())]
