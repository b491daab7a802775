"""The seed-era routes, at the root (config.urls): the old paths, each a deprecated alias of v1."""

from django.urls import path

from legacy import apis

urlpatterns = [
    # robots and reports (the production lines' and the first back office's scripts)
    path("add_robot/", apis.AddRobotApi.as_view(), name="legacy-add-robot"),
    path("api/create_robot", apis.CreateRobotApi.as_view(), name="legacy-create-robot"),
    path("download/", apis.WeeklyReportApi.as_view(), name="legacy-download"),
    path("api/excel_table", apis.WeeklyReportApi.as_view(), name="legacy-excel-table"),
    path("create_order/", apis.CreateOrderApi.as_view(), name="legacy-create-order"),
    path("swagger/", apis.LegacySwaggerView.as_view(url_name="schema"), name="legacy-swagger"),
    # the mailer
    path("clients/", apis.ClientListApi.as_view(), name="legacy-client-list"),
    path("clients/<int:id>/", apis.ClientDetailApi.as_view(), name="legacy-client-detail"),
    path("mailings/", apis.MailingListApi.as_view(), name="legacy-mailing-list"),
    path("mailings/<int:id>/", apis.MailingDetailApi.as_view(), name="legacy-mailing-detail"),
    path("mailings/<int:id>/statistics/", apis.MailingStatisticsApi.as_view(), name="legacy-mailing-statistics"),
    path("deliveries/", apis.MailingListApi.as_view(), name="legacy-delivery-list"),
    path("deliveries/get_general_statistic", apis.GeneralStatisticApi.as_view(), name="legacy-general-statistic"),
    path("deliveries/<int:id>/", apis.MailingDetailApi.as_view(), name="legacy-delivery-detail"),
    path(
        "deliveries/<int:id>/get_detail_statistic/",
        apis.MailingStatisticsApi.as_view(),
        name="legacy-detail-statistic",
    ),
    path("messages/", apis.MessageListApi.as_view(), name="legacy-message-list"),
    path("messages/<int:id>/", apis.MessageDetailApi.as_view(), name="legacy-message-detail"),
    path("activate_mailing/", apis.ActivateMailingApi.as_view(), name="legacy-activate-mailing"),
]
