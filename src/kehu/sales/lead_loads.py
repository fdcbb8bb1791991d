# ruff: noqa: S608 - the SQL below is built from constants in this file; no value from a request.
"""Open leads per owner (LeadOwnerLoad), kept by triggers on sales_lead (installed by migration 0010_salesrate).

Caps and least-loaded assignment compare the candidates' open leads for every new lead. Counting them read
every candidate's open leads: ~200,000 index entries for a 20-rep team at 300,000 leads, 70–80 ms of
PostgreSQL per lead (benchmarks/RESULTS.md, "Lead creation (session 3, leadperf)"). The counter table
answers in one small query.

Why triggers rather than the lead services: leads change through many paths (create, edit, status, assign,
rules re-applied, stale re-assignment, delete, restore, convert, merge, imports' bulk writes, the seed, a
deleted user's leads set to no owner by the database); a counter kept in Python would be wrong the first
time one of them forgot it. The database sees every row change, in the changing transaction, so the
counter is exact for every reader (tests/sales/test_lead_loads.py compares it with a live count after each
path).

A lead counts when it has an owner, is live (deleted_at IS NULL) and its status is one of
Lead.OPEN_STATUSES. PostgreSQL: one statement-level trigger per event with transition tables, so a bulk
write adds its leads per owner in one upsert, in (organisation, owner) order (concurrent bulk writes lock
the counter rows in the same order). SQLite: row-level triggers (it has no statement-level ones).
"""

from __future__ import annotations

from typing import Any

from django.db import connections

from kehu.sales.lead_models import Lead, LeadOwnerLoad

TABLE = LeadOwnerLoad._meta.db_table
OPEN = ", ".join(f"'{status}'" for status in Lead.OPEN_STATUSES)


def _counts(row: str) -> str:
    return f"{row}.owner_id IS NOT NULL AND {row}.deleted_at IS NULL AND {row}.status IN ({OPEN})"


# PostgreSQL -----------------------------------------------------------------------------------------------

_PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION sales_lead_owner_load() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO {TABLE} (organization_id, owner_id, open_leads)
        SELECT n.organization_id, n.owner_id, count(*) FROM new_rows n WHERE {_counts("n")}
        GROUP BY 1, 2 ORDER BY 1, 2
        ON CONFLICT (organization_id, owner_id) DO UPDATE SET open_leads = {TABLE}.open_leads + EXCLUDED.open_leads;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO {TABLE} (organization_id, owner_id, open_leads)
        SELECT o.organization_id, o.owner_id, -count(*) FROM old_rows o WHERE {_counts("o")}
        GROUP BY 1, 2 ORDER BY 1, 2
        ON CONFLICT (organization_id, owner_id) DO UPDATE SET open_leads = {TABLE}.open_leads + EXCLUDED.open_leads;
    ELSE
        INSERT INTO {TABLE} (organization_id, owner_id, open_leads)
        SELECT organization_id, owner_id, sum(delta) FROM (
            SELECT n.organization_id, n.owner_id, 1 AS delta FROM new_rows n WHERE {_counts("n")}
            UNION ALL
            SELECT o.organization_id, o.owner_id, -1 FROM old_rows o WHERE {_counts("o")}
        ) changed
        GROUP BY 1, 2 HAVING sum(delta) <> 0 ORDER BY 1, 2
        ON CONFLICT (organization_id, owner_id) DO UPDATE SET open_leads = {TABLE}.open_leads + EXCLUDED.open_leads;
    END IF;
    RETURN NULL;
END;
$$
"""

_PG_TRIGGERS = {
    "sales_lead_load_insert": "AFTER INSERT ON sales_lead REFERENCING NEW TABLE AS new_rows",
    "sales_lead_load_update": "AFTER UPDATE ON sales_lead REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "sales_lead_load_delete": "AFTER DELETE ON sales_lead REFERENCING OLD TABLE AS old_rows",
}

# SQLite ---------------------------------------------------------------------------------------------------


def _sqlite_add(row: str, delta: str) -> str:
    return (
        f"INSERT INTO {TABLE} (organization_id, owner_id, open_leads) "
        f"SELECT {row}.organization_id, {row}.owner_id, {delta} WHERE {_counts(row)} "
        f"ON CONFLICT (organization_id, owner_id) DO UPDATE SET open_leads = open_leads + ({delta});"
    )


_SQLITE_TRIGGERS = {
    "sales_lead_load_insert": f"AFTER INSERT ON sales_lead BEGIN {_sqlite_add('NEW', '1')} END",
    "sales_lead_load_update": (
        "AFTER UPDATE OF owner_id, status, deleted_at, organization_id ON sales_lead "
        f"BEGIN {_sqlite_add('OLD', '-1')} {_sqlite_add('NEW', '1')} END"
    ),
    "sales_lead_load_delete": f"AFTER DELETE ON sales_lead BEGIN {_sqlite_add('OLD', '-1')} END",
}


def install(connection: Any) -> None:
    """The triggers, and the counts of the leads already there."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(_PG_FUNCTION)
            for name, when in _PG_TRIGGERS.items():
                cursor.execute(f"DROP TRIGGER IF EXISTS {name} ON sales_lead")
                cursor.execute(
                    f"CREATE TRIGGER {name} {when} FOR EACH STATEMENT EXECUTE FUNCTION sales_lead_owner_load()"
                )
        elif connection.vendor == "sqlite":
            for name, body in _SQLITE_TRIGGERS.items():
                cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
                cursor.execute(f"CREATE TRIGGER {name} {body}")
        else:  # pragma: no cover - the project runs on PostgreSQL and SQLite only
            raise NotImplementedError(connection.vendor)
        cursor.execute(f"DELETE FROM {TABLE}")
        cursor.execute(
            f"INSERT INTO {TABLE} (organization_id, owner_id, open_leads) "
            f"SELECT organization_id, owner_id, count(*) FROM sales_lead WHERE {_counts('sales_lead')} "
            "GROUP BY organization_id, owner_id"
        )


def ensure_installed(using: str = "default", **kwargs: Any) -> None:
    """post_migrate on SQLite: put the triggers back, and recount, when a migration dropped them. SQLite alters
    a table by copying it into a new one, which loses its triggers (0011_salesgrams' new lead columns did);
    PostgreSQL alters tables in place and keeps them."""
    connection = connections[using]
    if connection.vendor != "sqlite" or not {"sales_lead", TABLE} <= set(connection.introspection.table_names()):
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'sales_lead'")
        present = {row[0] for row in cursor.fetchall()}
    if not set(_SQLITE_TRIGGERS) <= present:
        install(connection)


def uninstall(connection: Any) -> None:
    with connection.cursor() as cursor:
        for name in _PG_TRIGGERS:
            if connection.vendor == "postgresql":
                cursor.execute(f"DROP TRIGGER IF EXISTS {name} ON sales_lead")
            else:
                cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
        if connection.vendor == "postgresql":
            cursor.execute("DROP FUNCTION IF EXISTS sales_lead_owner_load()")


def open_leads(organization_id: int, owner_ids: list[int]) -> dict[int, int]:
    """{owner id: open leads} for `owner_ids` (0 for an owner who holds none)."""
    counts = dict(
        LeadOwnerLoad.objects.filter(organization_id=organization_id, owner_id__in=owner_ids).values_list(
            "owner_id", "open_leads"
        )
    )
    return {pk: counts.get(pk, 0) for pk in owner_ids}
