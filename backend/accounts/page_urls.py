"""The accounts pages, at the site's root: /login/, /logout/, /stats/ (alias /results/), the exports."""

from django.urls import path

from accounts import views

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("stats/", views.stats_view, name="stats"),
    path("results/", views.stats_view, name="results"),
    path("stats/export.txt", views.export_txt_view, name="stats-export-txt"),
    path("stats/export.xlsx", views.export_xlsx_view, name="stats-export-xlsx"),
]
