"""PostgreSQL: the search trigger functions learn the bulk writers' switch (kehu.customers.search.
precomputed_search): inside it, rows carry search columns computed in Python and the triggers do nothing.
Outside it they behave exactly as before, so reversing needs no change (a no-op). SQLite: nothing."""

from django.db import migrations


def install(apps, schema_editor):
    from kehu.customers import search

    search.install_functions(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0007_choices"),
    ]

    operations = [
        migrations.RunPython(install, migrations.RunPython.noop, elidable=False),
    ]
