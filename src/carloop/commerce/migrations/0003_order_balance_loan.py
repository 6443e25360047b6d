from django.db import migrations, models
from django.db.models import F


def loan_parts(apps, schema_editor):
    """Orders a loan paid before this field existed: the loan paid what commerce does not hold."""
    apps.get_model("commerce", "CarOrder").objects.filter(balance_method="loan", balance_paid_at__isnull=False).update(
        balance_loan_fen=F("total_fen") - F("deposit_fen") - F("trade_in_credit_fen") - F("balance_held_fen"))


class Migration(migrations.Migration):

    dependencies = [
        ("commerce", "0002_bilingual_labels"),
    ]

    operations = [
        migrations.AddField(
            model_name="carorder",
            name="balance_loan_fen",
            field=models.BigIntegerField(default=0, help_text="The part of the balance a disbursed loan paid to the seller"),
        ),
        migrations.RunPython(loan_parts, migrations.RunPython.noop),
    ]
