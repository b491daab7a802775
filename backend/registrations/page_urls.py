"""The registration request log's pages, at the site's root: /stats/ (alias /results/) and its exports."""

from django.urls import path

from registrations import views

urlpatterns = [
    path("stats/", views.stats_view, name="stats"),
    path("results/", views.stats_view, name="results"),
    path("stats/export.txt", views.export_txt_view, name="stats-export-txt"),
    path("stats/export.xlsx", views.export_xlsx_view, name="stats-export-xlsx"),
]
