"""Customer search data: two text columns on every vendor, then per vendor (the other vendor's part is a
no-op): PostgreSQL pg_trgm + btree_gin, a name_grams text[] column, triggers and two GIN indexes;
SQLite an FTS5 trigram table and triggers. Existing rows are backfilled. Reversible."""

from django.db import migrations, models


def install(apps, schema_editor):
    from kehu.customers import search

    search.install(schema_editor.connection)


def uninstall(apps, schema_editor):
    from kehu.customers import search

    search.uninstall(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0002_labels_and_timeline_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="customer",
            name="search_names",
            field=models.TextField(blank=True, default="", editable=False),
        ),
        migrations.AddField(
            model_name="customer",
            name="search_text",
            field=models.TextField(blank=True, default="", editable=False),
        ),
        migrations.RunPython(install, uninstall, elidable=False),
    ]
