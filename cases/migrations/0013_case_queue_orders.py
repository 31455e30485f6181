# The urgency queue's sort keys as stored generated columns (PostgreSQL computes them on every write,
# so no code path can leave them stale), and the indexes the queue orders walk a page at a time.
# Adding a stored generated column rewrites the table once (a lock for the migration's duration).

import datetime

import django.db.models.functions.comparison
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("cases", "0012_child_marriage_label")]

    operations = [
        migrations.AddField(
            model_name="case",
            name="next_action_due_sort",
            field=models.GeneratedField(
                db_persist=True,
                expression=django.db.models.functions.comparison.Coalesce(
                    "next_action_due_at",
                    models.Value(datetime.datetime(9999, 12, 31, 0, 0, tzinfo=datetime.UTC)),
                ),
                output_field=models.DateTimeField(),
            ),
        ),
        migrations.AddField(
            model_name="case",
            name="risk_rank",
            field=models.GeneratedField(
                db_persist=True,
                expression=models.Case(
                    models.When(risk_level="critical", then=models.Value(0)),
                    models.When(risk_level="high", then=models.Value(1)),
                    models.When(risk_level="medium", then=models.Value(2)),
                    models.When(risk_level="low", then=models.Value(3)),
                    models.When(risk_level="unassessed", then=models.Value(4)),
                    default=models.Value(5),
                    output_field=models.SmallIntegerField(),
                ),
                output_field=models.SmallIntegerField(),
            ),
        ),
        migrations.AddIndex(
            model_name="case",
            index=models.Index(
                fields=["helpline", "state", "risk_rank", "next_action_due_sort", "created_at", "id"],
                name="case_queue_by_urgency",
            ),
        ),
        migrations.AddIndex(
            model_name="case",
            index=models.Index(fields=["helpline", "state", "next_action_due_sort", "id"], name="case_queue_by_due"),
        ),
    ]
