from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    # Built CONCURRENTLY: on years of audit entries a plain CREATE INDEX would hold off every
    # audited read and write until it finished.
    atomic = False

    dependencies = [
        ('helpline', '0007_agency_membership'),
    ]

    operations = [
        AddIndexConcurrently(
            model_name='auditentry',
            index=models.Index(fields=['actor', 'id'], name='audit_entry_by_actor'),
        ),
    ]
