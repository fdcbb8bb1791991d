# The single-column organization_id index of ImportRow, which its other indexes leading with it make redundant.
# Only the index goes: Django's AlterField would drop and re-add the foreign key (a full check of every row).

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_support_grants"),
        ("core", "0007_custdone"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="importrow",
                    name="organization",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="accounts.organization",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "core_importrow_organization_id_712fc727"',
                    reverse_sql='CREATE INDEX "core_importrow_organization_id_712fc727" ON "core_importrow" ("organization_id")',
                ),
            ],
        ),
    ]
