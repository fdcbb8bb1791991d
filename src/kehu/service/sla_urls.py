"""sla pages of the service module (included by service/urls.py): SLA policies, business calendars with
their holidays, and the service report."""

from django.urls import path

from kehu.service import sla_views

urlpatterns = [
    path("sla/", sla_views.policy_list, name="sla_policies"),
    path("sla/new/", sla_views.policy_create, name="sla_policy_create"),
    path("sla/<int:pk>/edit/", sla_views.policy_edit, name="sla_policy_edit"),
    path("sla/<int:pk>/delete/", sla_views.policy_delete, name="sla_policy_delete"),
    path("sla/<int:pk>/move/", sla_views.policy_move, name="sla_policy_move"),
    path("sla/calendars/", sla_views.calendar_list, name="calendars"),
    path("sla/calendars/new/", sla_views.calendar_create, name="calendar_create"),
    path("sla/calendars/<int:pk>/", sla_views.calendar_detail, name="calendar_detail"),
    path("sla/calendars/<int:pk>/edit/", sla_views.calendar_edit, name="calendar_edit"),
    path("sla/calendars/<int:pk>/delete/", sla_views.calendar_delete, name="calendar_delete"),
    path("sla/calendars/<int:pk>/holidays/", sla_views.calendar_apply_holidays, name="calendar_apply_holidays"),
    path("sla/calendars/<int:pk>/days/new/", sla_views.calendar_day_create, name="calendar_day_create"),
    path("sla/days/<int:pk>/edit/", sla_views.calendar_day_edit, name="calendar_day_edit"),
    path("sla/days/<int:pk>/delete/", sla_views.calendar_day_delete, name="calendar_day_delete"),
    path("report/", sla_views.service_report, name="report"),
]
