from django.db import migrations


def install(apps, schema_editor):
    from kehu.customers import search

    search.install_walk_index(schema_editor.connection)


def uninstall(apps, schema_editor):
    from kehu.customers import search

    search.uninstall_walk_index(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0009_iorate"),
    ]

    operations = [
        # PostgreSQL: the search walk's covering index (kehu/customers/search.py, WALK_INDEX).
        migrations.RunPython(install, uninstall),
    ]
