"""Transfers get ``seq``, a strictly increasing order of application; statements order by it.

Existing rows are numbered in their former statement order (created_at, id). On PostgreSQL new rows take
``nextval('ledger_transfer_seq')`` as the column default; on SQLite the service assigns it.
"""

from typing import Any

from django.db import migrations, models


def number_existing(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "UPDATE ledger_transfer AS t SET seq = o.n FROM "
            "(SELECT id, row_number() OVER (ORDER BY created_at, id) AS n FROM ledger_transfer) AS o WHERE t.id = o.id"
        )
    else:
        schema_editor.execute(
            "UPDATE ledger_transfer SET seq = (SELECT count(*) FROM ledger_transfer AS o WHERE "
            "o.created_at < ledger_transfer.created_at "
            "OR (o.created_at = ledger_transfer.created_at AND o.id <= ledger_transfer.id))"
        )


def add_sequence(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("CREATE SEQUENCE ledger_transfer_seq AS bigint OWNED BY ledger_transfer.seq")
        schema_editor.execute(
            "SELECT setval('ledger_transfer_seq', coalesce(max(seq), 0) + 1, false) FROM ledger_transfer"
        )
        schema_editor.execute("ALTER TABLE ledger_transfer ALTER COLUMN seq SET DEFAULT nextval('ledger_transfer_seq')")


def drop_sequence(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE ledger_transfer ALTER COLUMN seq DROP DEFAULT")
        schema_editor.execute("DROP SEQUENCE ledger_transfer_seq")


class Migration(migrations.Migration):

    dependencies = [
        ("ledger", "0003_transfer_accounts_without_db_fk"),
    ]

    operations = [
        migrations.AddField(
            model_name="transfer",
            name="seq",
            field=models.BigIntegerField(editable=False, null=True),
        ),
        migrations.RunPython(number_existing, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="transfer",
            name="seq",
            field=models.BigIntegerField(editable=False, help_text="Strictly increasing in the order transfers were applied"),
        ),
        migrations.RunPython(add_sequence, drop_sequence),
        migrations.AlterModelOptions(name="transfer", options={"ordering": ["-seq"]}),
        migrations.RemoveIndex(model_name="transfer", name="ledger_transfer_debit_time"),
        migrations.RemoveIndex(model_name="transfer", name="ledger_transfer_credit_time"),
        migrations.AddIndex(
            model_name="transfer",
            index=models.Index(fields=["debit", "seq"], name="ledger_transfer_debit_seq"),
        ),
        migrations.AddIndex(
            model_name="transfer",
            index=models.Index(fields=["credit", "seq"], name="ledger_transfer_credit_seq"),
        ),
    ]
