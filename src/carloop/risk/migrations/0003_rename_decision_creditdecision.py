from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('risk', '0002_review_withdrawn'),
    ]

    operations = [
        migrations.RenameModel(old_name='Decision', new_name='CreditDecision'),
        migrations.RenameIndex(
            model_name='creditdecision',
            new_name='risk_credit_applica_629f68_idx',
            old_name='risk_decisi_applica_633a5c_idx',
        ),
        migrations.RenameIndex(
            model_name='creditdecision',
            new_name='risk_credit_custome_e54b97_idx',
            old_name='risk_decisi_custome_60d268_idx',
        ),
        migrations.RenameIndex(
            model_name='creditdecision',
            new_name='risk_credit_device__e66087_idx',
            old_name='risk_decisi_device__29943d_idx',
        ),
        migrations.RenameIndex(
            model_name='creditdecision',
            new_name='risk_credit_ip_9ad5ba_idx',
            old_name='risk_decisi_ip_0355c7_idx',
        ),
        migrations.RenameIndex(
            model_name='creditdecision',
            new_name='risk_credit_id_inde_5fd69b_idx',
            old_name='risk_decisi_id_inde_c74ee6_idx',
        ),
        migrations.RenameIndex(
            model_name='creditdecision',
            new_name='risk_credit_phone_i_680c4e_idx',
            old_name='risk_decisi_phone_i_c850b8_idx',
        ),
        migrations.RenameIndex(
            model_name='creditdecision',
            new_name='risk_credit_created_cf153c_idx',
            old_name='risk_decisi_created_3c4260_idx',
        ),
    ]
