"""The public help centre, /help/<address>/ (included by kehu/urls.py, namespace "help"): outside the
service module's gate because its readers have no account; the views refuse an organisation that has not
enabled the service module or switched its help centre off."""

from django.urls import path

from kehu.service import knowledge_views

app_name = "help"

urlpatterns = [
    path("<slug:slug>/", knowledge_views.help_index, name="index"),
    path("<slug:slug>/<int:pk>/", knowledge_views.help_article, name="article"),
]
