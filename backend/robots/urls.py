"""Robot routes under /api/v1/."""

from django.urls import path

from robots import apis

urlpatterns = [
    path("robot-models/", apis.RobotModelListApi.as_view(), name="robot-model-list"),
    path("robot-models/<str:code>/", apis.RobotModelDetailApi.as_view(), name="robot-model-detail"),
    path("robot-models/<str:code>/versions/", apis.RobotVersionCreateApi.as_view(), name="robot-version-create"),
    path("robots/", apis.RobotListCreateApi.as_view(), name="robot-list"),
    path("robots/batch/", apis.RobotBatchCreateApi.as_view(), name="robot-batch-create"),
]
