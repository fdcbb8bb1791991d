"""lead pages of the sales module (included by sales/urls.py)."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
