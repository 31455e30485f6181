from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class HelplineConfig(AppConfig):
    name = "helpline"
    verbose_name = gettext_lazy("Helplines, people and audit")

    def ready(self) -> None:
        from celery.signals import task_postrun, task_prerun
        from django.core import checks

        from . import context, labels, provided
        from .api import checks as api_checks  # noqa: F401  (registers the gate's start-up checks)
        from .models import Role

        # The apps above helpline hand it what its policy needs (helpline.provided): without
        # them, stop at start-up rather than answer every request with an error.
        @checks.register(checks.Tags.compatibility)
        def _upper_apps_provided(app_configs=None, **kwargs):
            return [
                checks.Error(f"helpline needs data no app provided: {what}.", id="helpline.E001")
                for what in provided.missing()
            ]

        # The codes whose labels people read (GET /api/v1/vocabularies/).
        labels.register("role", Role)

        tokens = {}

        # Audit entries written by a task carry the task id as their request id, so a supervisor
        # can tell which run of which job did what.
        @task_prerun.connect(weak=False)
        def _bind_task_context(task_id=None, **kwargs):
            tokens[task_id] = context.bind(context.RequestContext(request_id=f"task-{task_id}"))

        @task_postrun.connect(weak=False)
        def _reset_task_context(task_id=None, **kwargs):
            token = tokens.pop(task_id, None)
            if token is not None:
                context.reset(token)
