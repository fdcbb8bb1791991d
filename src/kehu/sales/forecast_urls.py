"""forecast pages of the sales module (included by sales/urls.py): the forecast and the quotas."""

from django.urls import URLPattern, path

from kehu.sales import forecast_views as views

urlpatterns: list[URLPattern] = [
    path("forecast/", views.forecast, name="forecast"),
    path("quotas/", views.quota_grid, name="quotas"),
    path("quotas/new/", views.quota_create, name="quota_create"),
    path("quotas/recycle-bin/", views.quota_recycle_bin, name="quota_recycle_bin"),
    path("quotas/<int:pk>/", views.quota_edit, name="quota_edit"),
    path("quotas/<int:pk>/delete/", views.quota_delete, name="quota_delete"),
    path("quotas/<int:pk>/restore/", views.quota_restore, name="quota_restore"),
]
