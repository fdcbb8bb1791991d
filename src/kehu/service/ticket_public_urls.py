"""The public web form, included by kehu/urls.py at /help/ under its own namespace "ticket_public": outside
the "service" namespace, so the module gate for signed-in users does not apply; the views refuse
themselves when the queue's organisation has not enabled service."""

from django.urls import path

from kehu.service import ticket_public_views

app_name = "ticket_public"

urlpatterns = [
    path("<str:token>/ticket/", ticket_public_views.public_form, name="form"),
    path("<str:token>/ticket/thanks/", ticket_public_views.public_thanks, name="thanks"),
]
