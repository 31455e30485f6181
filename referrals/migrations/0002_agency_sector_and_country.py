from django.db import migrations, models


def country_from_helpline(apps, schema_editor):
    Agency = apps.get_model("referrals", "Agency")
    for agency in Agency.objects.select_related("helpline"):
        agency.country = agency.helpline.country
        agency.save(update_fields=["country"])


class Migration(migrations.Migration):
    dependencies = [("referrals", "0001_initial"), ("helpline", "0001_initial")]

    operations = [
        # An agency's kind is its sector, as partner agencies describe themselves.
        migrations.RenameField("agency", "kind", "sector"),
        migrations.AddField(
            model_name="agency",
            name="country",
            field=models.CharField(default="", help_text="ISO 3166-1 alpha-2 country code.", max_length=2),
            preserve_default=False,
        ),
        migrations.RunPython(country_from_helpline, migrations.RunPython.noop),
    ]
