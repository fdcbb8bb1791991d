from django.db import migrations, models


def install(apps, schema_editor):
    from kehu.sales import search, search_indexes

    # The leads' four per-column trigram indexes served lead_selectors.search_q; the search now reads
    # search_text, which lead_search_trgm serves (one index to maintain per write instead of four).
    search_indexes.uninstall(schema_editor.connection)
    search.install(schema_editor.connection)


def uninstall(apps, schema_editor):
    from kehu.sales import search, search_indexes

    search.uninstall(schema_editor.connection)
    search_indexes.install(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0010_custsearch"),  # kehu_name_grams(), pg_trgm and btree_gin
        ("sales", "0010_salesrate"),
    ]

    operations = [
        migrations.AddField(
            model_name="opportunity",
            name="search_names",
            field=models.TextField(blank=True, default="", editable=False),
        ),
        migrations.AddField(
            model_name="lead",
            name="search_names",
            field=models.TextField(blank=True, default="", editable=False),
        ),
        migrations.AddField(
            model_name="lead",
            name="search_text",
            field=models.TextField(blank=True, default="", editable=False),
        ),
        # Search data kept by triggers, backfilled from the rows, and its indexes (kehu/sales/search.py);
        # on SQLite the triggers and the backfill come with post_migrate (search.ensure_schema).
        migrations.RunPython(install, uninstall),
    ]
