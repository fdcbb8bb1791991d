"""The public web-to-lead forms, included by kehu/urls.py at /forms/ under their own namespace
"lead_forms": outside the "sales" namespace, so the middleware's module gate (for signed-in users) does not
apply; the views refuse themselves when the form's organisation has not enabled sales."""

from django.urls import path

from kehu.sales import lead_public_views

app_name = "lead_forms"

urlpatterns = [
    path("<str:token>/", lead_public_views.public_form, name="public"),
    path("<str:token>/thanks/", lead_public_views.public_thanks, name="thanks"),
]
