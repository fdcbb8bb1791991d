from django.urls import path

from kehu.customers import pool_views, views

# The namespace is the module key: the middleware's module gate answers 403 for every page below when
# the organisation has not enabled the customers module.
app_name = "customers"

urlpatterns = [
    path("", views.customer_list, name="list"),
    path("new/", views.customer_create, name="create"),
    path("bulk/", views.customer_bulk, name="bulk"),
    path("recycle-bin/", views.recycle_bin, name="recycle_bin"),
    path("tags/", views.tag_list, name="tags"),
    path("tags/<int:pk>/edit/", views.tag_edit, name="tag_edit"),
    path("tags/<int:pk>/delete/", views.tag_delete, name="tag_delete"),
    path("<int:pk>/", views.customer_detail, name="detail"),
    path("<int:pk>/timeline/", views.customer_timeline, name="timeline"),
    path("<int:pk>/edit/", views.customer_edit, name="edit"),
    path("<int:pk>/delete/", views.customer_delete, name="delete"),
    path("<int:pk>/restore/", views.customer_restore, name="restore"),
    path("<int:pk>/contacts/new/", views.contact_create, name="contact_create"),
    path("contacts/<int:pk>/edit/", views.contact_edit, name="contact_edit"),
    path("contacts/<int:pk>/delete/", views.contact_delete, name="contact_delete"),
    # Public pool 公海, duplicates and merge, recycle-bin purge (customers/pool_views.py).
    path("pool/", pool_views.pool_list, name="pool"),
    path("pool/bulk/", pool_views.pool_bulk, name="pool_bulk"),
    path("pool/release/", pool_views.release_bulk, name="pool_release_bulk"),
    path("pool/settings/", pool_views.pool_settings, name="pool_settings"),
    path("duplicates/", pool_views.duplicates, name="duplicates"),
    path("merge/", pool_views.customer_merge, name="merge"),
    path("<int:pk>/claim/", pool_views.customer_claim, name="claim"),
    path("<int:pk>/release/", pool_views.customer_release, name="release"),
    path("<int:pk>/purge/", pool_views.customer_purge, name="purge"),
]

# Notes and attachments (feature "notes").
from kehu.customers import note_views  # noqa: E402

urlpatterns += [
    path("<int:pk>/notes/new/", note_views.note_create, name="note_create"),
    path("<int:pk>/mentions/", note_views.mention_suggestions, name="mention_suggestions"),
    path("<int:pk>/attachments/new/", note_views.attachment_upload, name="attachment_upload"),
    path("notes/<int:pk>/", note_views.note_edit, name="note_edit"),
    path("notes/<int:pk>/delete/", note_views.note_delete, name="note_delete"),
    path("attachments/<int:pk>/download/", note_views.attachment_download, name="attachment_download"),
    path("attachments/<int:pk>/delete/", note_views.attachment_delete, name="attachment_delete"),
]
