# The single-column organization_id indexes that other indexes leading with the column make redundant.
# Only the index goes: Django's AlterField would drop and re-add the foreign key (a full check of every row).

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_support_grants"),
        ("customers", "0010_custsearch"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="contact",
                    name="organization",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accounts.organization",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "customers_contact_organization_id_067c191e"',
                    reverse_sql='CREATE INDEX "customers_contact_organization_id_067c191e" ON "customers_contact" ("organization_id")',
                ),
            ],
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="customertag",
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
                    'DROP INDEX IF EXISTS "customers_customertag_organization_id_10b1713d"',
                    reverse_sql='CREATE INDEX "customers_customertag_organization_id_10b1713d" ON "customers_customertag" ("organization_id")',
                ),
            ],
        ),
    ]
