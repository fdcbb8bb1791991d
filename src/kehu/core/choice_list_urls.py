"""/lists/: the organisation's editable option lists (kehu.core.choice_list_views)."""

from django.urls import path

from kehu.core import choice_list_views as views

app_name = "choice_lists"

urlpatterns = [
    path("", views.option_list, name="list"),
    path("<int:pk>/", views.option_edit, name="edit"),
    path("<int:pk>/toggle/", views.option_toggle, name="toggle"),
    path("<int:pk>/move/", views.option_move, name="move"),
    path("<int:pk>/delete/", views.option_delete, name="delete"),
]
