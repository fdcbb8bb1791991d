from django.urls import path

from kehu.customers import custom_field_views, pool_views, saved_view_views, views

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
    path("<int:pk>/panels/", views.customer_panels, name="panels"),
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
    # The recycle bin's second tab: deleted notes and files, and restoring them.
    path("recycle-bin/notes/", note_views.recycle_bin_notes, name="recycle_bin_notes"),
    path("notes/<int:pk>/restore/", note_views.note_restore, name="note_restore"),
    path("attachments/<int:pk>/restore/", note_views.attachment_restore, name="attachment_restore"),
    # Custom fields (administrators) and saved views of the list.
    path("custom-fields/", custom_field_views.custom_field_list, name="custom_fields"),
    path("custom-fields/new/", custom_field_views.custom_field_create, name="custom_field_create"),
    path("custom-fields/<int:pk>/edit/", custom_field_views.custom_field_edit, name="custom_field_edit"),
    path("custom-fields/<int:pk>/toggle/", custom_field_views.custom_field_toggle, name="custom_field_toggle"),
    path("custom-fields/<int:pk>/move/", custom_field_views.custom_field_move, name="custom_field_move"),
    path("custom-fields/<int:pk>/delete/", custom_field_views.custom_field_delete, name="custom_field_delete"),
    path("views/new/", saved_view_views.saved_view_create, name="saved_view_create"),
    path("views/<int:pk>/edit/", saved_view_views.saved_view_edit, name="saved_view_edit"),
    path("views/<int:pk>/delete/", saved_view_views.saved_view_delete, name="saved_view_delete"),
    path("views/<int:pk>/default/", saved_view_views.saved_view_default, name="saved_view_default"),
]

# Import and export (imports branch): the import wizard, its jobs, and the export download.
from kehu.customers import import_views  # noqa: E402

urlpatterns += [
    path("export/", import_views.customer_export, name="export"),
    *import_views.VIEWS.urlpatterns("imports/"),
]
