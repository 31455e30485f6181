# The default list's "Child, early or forced marriage" had an unquoted comma in its YAML, so every
# helpline got the label "Child". Only labels still as the loader wrote them are corrected: one a
# helpline changed on purpose is left as it is.

from django.db import migrations

RIGHT = "Child, early or forced marriage"


def label_corrected(apps, schema_editor):
    Category = apps.get_model("cases", "Category")
    Category.objects.filter(code="child_marriage", label="Child").update(label=RIGHT)


class Migration(migrations.Migration):
    dependencies = [("cases", "0011_escalation_stored_late")]

    operations = [migrations.RunPython(label_corrected, migrations.RunPython.noop)]
