"""Opportunity pages of the sales module (included by sales/urls.py): the board, the list, the record,
the recycle bin, and the administrators' pipelines and stages."""

from django.urls import URLPattern, path

from kehu.sales import opportunity_admin_views as admin_views
from kehu.sales import opportunity_views as views

urlpatterns: list[URLPattern] = [
    path("opportunities/", views.opportunity_list, name="opportunity_list"),
    path("opportunities/board/", views.opportunity_board, name="opportunity_board"),
    path("opportunities/board/stages/<int:pk>/", views.board_column, name="opportunity_board_column"),
    path("opportunities/new/", views.opportunity_create, name="opportunity_create"),
    path("opportunities/bulk/", views.opportunity_bulk, name="opportunity_bulk"),
    path("opportunities/recycle-bin/", views.opportunity_recycle_bin, name="opportunity_recycle_bin"),
    path("opportunities/customer-options/", views.customer_options, name="opportunity_customer_options"),
    path("opportunities/contact-options/", views.contact_options, name="opportunity_contact_options"),
    path("opportunities/<int:pk>/", views.opportunity_detail, name="opportunity_detail"),
    path("opportunities/<int:pk>/edit/", views.opportunity_edit, name="opportunity_edit"),
    path("opportunities/<int:pk>/quick-edit/", views.opportunity_quick_edit, name="opportunity_quick_edit"),
    path("opportunities/<int:pk>/move/", views.opportunity_move, name="opportunity_move"),
    path("opportunities/<int:pk>/won/", views.opportunity_won, name="opportunity_won"),
    path("opportunities/<int:pk>/lost/", views.opportunity_lost, name="opportunity_lost"),
    path("opportunities/<int:pk>/delete/", views.opportunity_delete, name="opportunity_delete"),
    path("opportunities/<int:pk>/restore/", views.opportunity_restore, name="opportunity_restore"),
    path("pipelines/", admin_views.pipeline_list, name="pipeline_list"),
    path("pipelines/<int:pk>/", admin_views.pipeline_detail, name="pipeline_detail"),
    path("pipelines/<int:pk>/delete/", admin_views.pipeline_delete, name="pipeline_delete"),
    path("pipelines/<int:pk>/stages/new/", admin_views.stage_create, name="stage_create"),
    path("stages/<int:pk>/edit/", admin_views.stage_edit, name="stage_edit"),
    path("stages/<int:pk>/delete/", admin_views.stage_delete, name="stage_delete"),
    path("stages/<int:pk>/move/", admin_views.stage_move, name="stage_move"),
]
