"""lead pages of the sales module (included by sales/urls.py, namespace "sales"). The public web form lives
outside the module gate: sales/lead_public_urls.py."""

from django.urls import URLPattern, path

from kehu.sales import lead_admin_views, lead_field_views, lead_import_views, lead_views

urlpatterns: list[URLPattern] = [
    path("leads/", lead_views.lead_list, name="lead_list"),
    path("leads/new/", lead_views.lead_create, name="lead_create"),
    path("leads/bulk/", lead_views.lead_bulk, name="lead_bulk"),
    path("leads/export/", lead_views.lead_export, name="lead_export"),
    path("leads/recycle-bin/", lead_views.lead_recycle_bin, name="lead_recycle_bin"),
    path("leads/<int:pk>/", lead_views.lead_detail, name="lead_detail"),
    path("leads/<int:pk>/edit/", lead_views.lead_edit, name="lead_edit"),
    path("leads/<int:pk>/status/", lead_views.lead_status, name="lead_status"),
    path("leads/<int:pk>/assign/", lead_views.lead_assign, name="lead_assign"),
    path("leads/<int:pk>/convert/", lead_views.lead_convert, name="lead_convert"),
    path("leads/<int:pk>/delete/", lead_views.lead_delete, name="lead_delete"),
    path("leads/<int:pk>/restore/", lead_views.lead_restore, name="lead_restore"),
    # Import (the generic engine with the leads adapter).
    *lead_import_views.VIEWS.urlpatterns("leads/imports/"),
    # Administrators: web forms, assignment rules and settings, sources, custom fields of leads.
    path("web-forms/", lead_admin_views.webform_list, name="webform_list"),
    path("web-forms/new/", lead_admin_views.webform_create, name="webform_create"),
    path("web-forms/<int:pk>/", lead_admin_views.webform_edit, name="webform_edit"),
    path("web-forms/<int:pk>/new-address/", lead_admin_views.webform_new_address, name="webform_new_address"),
    path("web-forms/<int:pk>/delete/", lead_admin_views.webform_delete, name="webform_delete"),
    path("assignment-rules/", lead_admin_views.rule_list, name="rule_list"),
    path("assignment-rules/new/", lead_admin_views.rule_create, name="rule_create"),
    path("assignment-rules/reapply/", lead_admin_views.rules_reapply, name="rules_reapply"),
    path("assignment-rules/<int:pk>/", lead_admin_views.rule_edit, name="rule_edit"),
    path("assignment-rules/<int:pk>/move/", lead_admin_views.rule_move, name="rule_move"),
    path("assignment-rules/<int:pk>/delete/", lead_admin_views.rule_delete, name="rule_delete"),
    path("lead-sources/", lead_admin_views.source_list, name="source_list"),
    path("lead-sources/<int:pk>/", lead_admin_views.source_edit, name="source_edit"),
    path("lead-sources/<int:pk>/delete/", lead_admin_views.source_delete, name="source_delete"),
    path("lead-fields/", lead_field_views.field_list, name="lead_fields"),
    path("lead-fields/new/", lead_field_views.field_create, name="lead_field_create"),
    path("lead-fields/<int:pk>/", lead_field_views.field_edit, name="lead_field_edit"),
    path("lead-fields/<int:pk>/toggle/", lead_field_views.field_toggle, name="lead_field_toggle"),
    path("lead-fields/<int:pk>/move/", lead_field_views.field_move, name="lead_field_move"),
    path("lead-fields/<int:pk>/delete/", lead_field_views.field_delete, name="lead_field_delete"),
]
