"""The organisation administrator's pages, under /admin/ (the vendor's Django admin is /platform/)."""

from django.urls import path

from kehu.accounts import admin_views, support_views

app_name = "admin_area"

urlpatterns = [
    path("users/", admin_views.users, name="users"),
    path("users/invite/", admin_views.user_invite, name="user_invite"),
    path("users/<int:pk>/", admin_views.user_edit, name="user_edit"),
    path("users/<int:pk>/deactivate/", admin_views.user_deactivate, name="user_deactivate"),
    path("users/<int:pk>/reactivate/", admin_views.user_reactivate, name="user_reactivate"),
    path("users/<int:pk>/reset-2fa/", admin_views.user_reset_2fa, name="user_reset_2fa"),
    path("teams/", admin_views.teams, name="teams"),
    path("teams/new/", admin_views.team_create, name="team_create"),
    path("teams/<int:pk>/", admin_views.team_edit, name="team_edit"),
    path("teams/<int:pk>/delete/", admin_views.team_delete, name="team_delete"),
    path("roles/", admin_views.roles, name="roles"),
    path("roles/new/", admin_views.role_create, name="role_create"),
    path("roles/<int:pk>/", admin_views.role_edit, name="role_edit"),
    path("roles/<int:pk>/copy/", admin_views.role_copy, name="role_copy"),
    path("roles/<int:pk>/delete/", admin_views.role_delete, name="role_delete"),
    path("organization/", admin_views.organization, name="organization"),
    path("support/", support_views.support, name="support"),
    path("support/<int:pk>/revoke/", support_views.support_revoke, name="support_revoke"),
]
