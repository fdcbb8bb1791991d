from django.db import migrations, models


def install(apps, schema_editor):
    from kehu.sales import lead_loads, search_indexes

    lead_loads.install(schema_editor.connection)
    search_indexes.install(schema_editor.connection)


def uninstall(apps, schema_editor):
    from kehu.sales import lead_loads, search_indexes

    search_indexes.uninstall(schema_editor.connection)
    lead_loads.uninstall(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [
        ("sales", "0009_choices"),
    ]

    operations = [
        migrations.CreateModel(
            name="LeadOwnerLoad",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("organization_id", models.BigIntegerField()),
                ("owner_id", models.BigIntegerField()),
                ("open_leads", models.IntegerField(default=0)),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(fields=("organization_id", "owner_id"), name="leadownerload_org_owner")
                ],
            },
        ),
        # Open leads per owner kept by triggers on sales_lead (kehu/sales/lead_loads.py), counted from the
        # leads already there; the searches' trigram indexes on PostgreSQL (kehu/sales/search_indexes.py).
        migrations.RunPython(install, uninstall),
    ]
