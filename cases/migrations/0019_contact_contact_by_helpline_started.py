from django.conf import settings
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    # Built without blocking the contacts being written meanwhile (a national helpline's table has
    # millions of rows): CONCURRENTLY cannot run inside a transaction.
    atomic = False

    dependencies = [
        ('cases', '0018_case_open_by_urgency'),
        ('helpline', '0011_languages'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        AddIndexConcurrently(
            model_name='contact',
            index=models.Index(fields=['helpline', 'started_at'], name='contact_by_helpline_started'),
        ),
    ]
