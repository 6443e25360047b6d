from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('finance', '0002_loan_unwind'),
    ]

    operations = [
        migrations.RenameModel(old_name='Decision', new_name='ApplicationDecision'),
    ]
