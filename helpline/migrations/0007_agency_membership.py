# The agency an agency user works for is now referrals.AgencyMembership (referrals 0007 copied the
# column into it); going back copies the memberships into the column before its constraint returns.

from django.db import migrations


def users_from_memberships(apps, schema_editor):
    User = apps.get_model("helpline", "User")
    AgencyMembership = apps.get_model("referrals", "AgencyMembership")
    for user_id, agency_id in AgencyMembership.objects.values_list("user_id", "agency_id"):
        User.objects.filter(pk=user_id).update(agency_id=agency_id)


class Migration(migrations.Migration):

    dependencies = [
        ('helpline', '0006_set_password_links'),
        ('referrals', '0007_agency_membership'),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='user',
            options={'verbose_name': 'user', 'verbose_name_plural': 'users'},
        ),
        migrations.RemoveConstraint(
            model_name='user',
            name='user_agency_iff_agency_role',
        ),
        migrations.RunPython(migrations.RunPython.noop, users_from_memberships),
        migrations.RemoveField(
            model_name='user',
            name='agency',
        ),
    ]
