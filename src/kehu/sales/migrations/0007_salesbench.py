from django.db import migrations


def install_indexes(apps, schema_editor):
    from kehu.sales import salesbench_indexes

    salesbench_indexes.install(schema_editor.connection)


def uninstall_indexes(apps, schema_editor):
    from kehu.sales import salesbench_indexes

    salesbench_indexes.uninstall(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [
        ("sales", "0006_forecast"),
    ]

    operations = [
        # "My day"'s done-today index and the open leads per rep of the assignment rules (kehu/sales/salesbench_indexes.py).
        migrations.RunPython(install_indexes, uninstall_indexes),
    ]
