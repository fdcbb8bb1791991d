from django.db import migrations


def install(apps, schema_editor):
    from kehu.sales import search

    search.install_owner_walk_indexes(schema_editor.connection)


def uninstall(apps, schema_editor):
    from kehu.sales import search

    search.uninstall_owner_walk_indexes(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("sales", "0011_salesgrams")]

    # PostgreSQL only: a sales rep's search walks their own rows by (organization, owner, updated_at, id),
    # covering (kehu/sales/search.py, WALK_INDEXES).
    operations = [migrations.RunPython(install, uninstall)]
