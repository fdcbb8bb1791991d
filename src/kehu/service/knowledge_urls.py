"""knowledge pages of the service module (included by service/urls.py): the knowledge base, its
categories and recycle bin, and the help centre's settings. The public help centre and the satisfaction
survey pages live outside the module's namespace (knowledge_public_urls.py, survey_urls.py)."""

from django.urls import path

from kehu.service import knowledge_views

urlpatterns = [
    path("kb/", knowledge_views.article_list, name="kb_list"),
    path("kb/new/", knowledge_views.article_create, name="kb_create"),
    path("kb/recycle-bin/", knowledge_views.recycle_bin, name="kb_recycle_bin"),
    path("kb/categories/", knowledge_views.category_list, name="kb_categories"),
    path("kb/categories/<int:pk>/edit/", knowledge_views.category_edit, name="kb_category_edit"),
    path("kb/categories/<int:pk>/delete/", knowledge_views.category_delete, name="kb_category_delete"),
    path("kb/help-centre/", knowledge_views.help_centre_settings, name="kb_help_centre"),
    path("kb/<int:pk>/", knowledge_views.article_detail, name="kb_detail"),
    path("kb/<int:pk>/edit/", knowledge_views.article_edit, name="kb_edit"),
    path("kb/<int:pk>/publish/", knowledge_views.article_publish, name="kb_publish"),
    path("kb/<int:pk>/delete/", knowledge_views.article_delete, name="kb_delete"),
    path("kb/<int:pk>/restore/", knowledge_views.article_restore, name="kb_restore"),
]
