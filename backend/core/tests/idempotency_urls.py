"""A small API used only by the idempotency tests: each call creates one row."""

import time

from django.urls import path
from django_celery_beat.models import IntervalSchedule
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core.idempotency import idempotent


class ScheduleCreateApi(APIView):
    roles = ("sales",)

    class InputSerializer(serializers.Serializer):
        every = serializers.IntegerField(min_value=1)

    @idempotent
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        schedule = IntervalSchedule.objects.create(every=serializer.validated_data["every"], period="seconds")
        time.sleep(0.02)  # widens the window in which concurrent retries overlap
        return Response({"id": schedule.pk, "every": schedule.every}, status=201)


urlpatterns = [path("schedules/", ScheduleCreateApi.as_view())]
