"""activity pages of the sales module (included by sales/urls.py)."""

from django.urls import URLPattern, path

from kehu.sales import activity_views as views

urlpatterns: list[URLPattern] = [
    path("my-day/", views.my_day, name="my_day"),
    path("calendar/", views.activity_calendar, name="activity_calendar"),
    path("activities/", views.activity_list, name="activity_list"),
    path("activities/new/", views.activity_create, name="activity_create"),
    path("activities/log/", views.activity_log, name="activity_log"),
    path("activities/contact-options/", views.contact_options, name="activity_contact_options"),
    path("activities/recycle-bin/", views.recycle_bin, name="activity_recycle_bin"),
    path("activities/<int:pk>/", views.activity_detail, name="activity_detail"),
    path("activities/<int:pk>/edit/", views.activity_edit, name="activity_edit"),
    path("activities/<int:pk>/complete/", views.activity_complete, name="activity_complete"),
    path("activities/<int:pk>/cancel/", views.activity_cancel, name="activity_cancel"),
    path("activities/<int:pk>/reopen/", views.activity_reopen, name="activity_reopen"),
    path("activities/<int:pk>/delete/", views.activity_delete, name="activity_delete"),
    path("activities/<int:pk>/restore/", views.activity_restore, name="activity_restore"),
]
