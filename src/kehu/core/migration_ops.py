"""Migration operations more than one app uses."""

from __future__ import annotations

from django.db import migrations, models


def drop_organization_index(model_name: str, table: str, index: str, on_delete: object) -> migrations.Operation:
    """Stop indexing `organization` on its own (db_index=False) where other indexes lead with it: only the
    index goes. Django's AlterField would drop and re-add the foreign key, checking every row again."""
    return migrations.SeparateDatabaseAndState(
        state_operations=[
            migrations.AlterField(
                model_name=model_name,
                name="organization",
                field=models.ForeignKey(
                    db_index=False, on_delete=on_delete, related_name="+", to="accounts.organization"
                ),
            ),
        ],
        database_operations=[
            migrations.RunSQL(
                f'DROP INDEX IF EXISTS "{index}"',
                reverse_sql=f'CREATE INDEX "{index}" ON "{table}" ("organization_id")',
            ),
        ],
    )
