from django.db import migrations


def install_indexes(apps, schema_editor):
    from kehu.sales import salesperf_indexes

    salesperf_indexes.install(schema_editor.connection)


def uninstall_indexes(apps, schema_editor):
    from kehu.sales import salesperf_indexes

    salesperf_indexes.uninstall(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [
        ("sales", "0007_salesbench"),
    ]

    operations = [
        # The pipeline summary's covering indexes, open and recently closed (kehu/sales/salesperf_indexes.py).
        migrations.RunPython(install_indexes, uninstall_indexes),
    ]
