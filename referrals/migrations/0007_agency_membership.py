# Who an agency user works for moves from helpline.User.agency (a foreign key from the floor app up
# to referrals) to referrals.AgencyMembership; helpline 0007 then drops the column.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def memberships_from_users(apps, schema_editor):
    User = apps.get_model("helpline", "User")
    AgencyMembership = apps.get_model("referrals", "AgencyMembership")
    AgencyMembership.objects.bulk_create(
        AgencyMembership(user_id=user_id, agency_id=agency_id)
        for user_id, agency_id in User.objects.filter(agency__isnull=False).values_list("pk", "agency_id")
    )


class Migration(migrations.Migration):

    dependencies = [
        ('helpline', '0006_set_password_links'),
        ('referrals', '0006_agency_webhook_changes'),
    ]

    operations = [
        migrations.CreateModel(
            name='AgencyMembership',
            fields=[
                ('user', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='agency_membership', serialize=False, to=settings.AUTH_USER_MODEL)),
                ('agency', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='memberships', to='referrals.agency')),
            ],
        ),
        # Back: the table is dropped after helpline 0007's reverse copied it into the column.
        migrations.RunPython(memberships_from_users, migrations.RunPython.noop),
    ]
