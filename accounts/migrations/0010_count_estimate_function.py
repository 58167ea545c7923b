"""realname_count_estimate(query): PostgreSQL's planner estimate of the rows a query returns, for the lists'
"about N (an estimate)" past the count cap (core.keyset.counted_and_estimated, issue 12 §1.4).

It lives in a function so that the capped count and the estimate are one statement: a list past the cap
costs the queries of one below it. It EXPLAINs without ANALYZE, so the query given is planned, never run.
The lists' keyset code sits in core, which has no models and so no migrations; accounts is the lowest app
that has them. Other databases have no such estimate (the page says "more than" the cap there)."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION realname_count_estimate(query text) RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    plan json;
BEGIN
    EXECUTE 'EXPLAIN (FORMAT JSON) ' || query INTO plan;
    RETURN (plan -> 0 -> 'Plan' ->> 'Plan Rows')::numeric::bigint;
END
$$;
"""

DROP = "DROP FUNCTION IF EXISTS realname_count_estimate(text);"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0009_admin_keyset_indexes")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
