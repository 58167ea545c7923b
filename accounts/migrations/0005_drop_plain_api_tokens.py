"""Issue 7 §2.3: DRF's plain-text API tokens (rest_framework.authtoken) give way to django-rest-knox's hashed,
expiring ones. The old table is dropped with every token in it: clients log in again."""

from django.db import migrations

OLD_TABLE = "authtoken_token"


def drop_plain_tokens(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
    if OLD_TABLE in tables:
        schema_editor.execute(f"DROP TABLE {schema_editor.quote_name(OLD_TABLE)}")
    # Forget the removed app's migrations, so that adding it back would create its table again.
    schema_editor.execute("DELETE FROM django_migrations WHERE app = %s", ["authtoken"])


class Migration(migrations.Migration):
    dependencies = [("accounts", "0004_role_grants")]

    operations = [migrations.RunPython(drop_plain_tokens, migrations.RunPython.noop, elidable=False)]
