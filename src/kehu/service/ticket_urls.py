"""ticket pages of the service module (included by service/urls.py)."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
