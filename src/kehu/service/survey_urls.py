"""Satisfaction survey pages, /survey/<token>/ (included by kehu/urls.py, namespace "survey"): no login,
the signed token is the key."""

from django.urls import path

from kehu.service import survey_views

app_name = "survey"

urlpatterns = [
    path("<str:token>/", survey_views.answer, name="answer"),
    path("<str:token>/comment/", survey_views.comment, name="comment"),
]
