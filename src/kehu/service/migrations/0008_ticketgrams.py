from django.db import migrations

from kehu.core.search_backends.postgres import GRAMS_FUNCTION
from kehu.service.ticket_models import search_grams_sql

# A ticket search for 1-2 characters walks the newest tickets of each part of the actor's scope; a rare
# fragment (few matches in the walk) needs an index: the GIN over the 1- and 2-character grams of the subject
# and the requester's name and email (ticket_models.search_grams_sql), as the customers' name_grams column is.
# An expression index rather than a column kept by triggers: every path that writes a ticket (the services,
# QuerySet.update, seed_service's COPY with triggers off) keeps it right by construction, and building it is
# the whole backfill (no rewrite of the table and its other indexes). PostgreSQL only: on SQLite the walk's
# undecided cases run one plain statement per part of the scope (benchmarks/RESULTS.md, ticketgrams).
# Not partial (the recycle bin's few tickets are in it too): PostgreSQL uses the statistics of an expression
# index's expression only when the index is not partial, and the search asks the planner how many tickets hold
# a gram before it reads them (ticket_selectors._gram_index_ids): a partial one estimated 0.5% for every gram.


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS btree_gin")
    schema_editor.execute(GRAMS_FUNCTION)
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS ticket_search_grams ON service_ticket "
        f"USING gin (organization_id, ({search_grams_sql()}))"
    )
    # The expression's statistics come with ANALYZE: until autovacuum's, the search's estimate would be a guess.
    schema_editor.execute("ANALYZE service_ticket")


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS ticket_search_grams")


class Migration(migrations.Migration):
    dependencies = [("service", "0007_ticketsearch")]

    operations = [migrations.RunPython(create_index, drop_index)]
