from django.apps import AppConfig


class HelplineConfig(AppConfig):
    name = "helpline"
    verbose_name = "Helplines, people and audit"

    def ready(self) -> None:
        from celery.signals import task_postrun, task_prerun

        from . import context
        from .api import checks  # noqa: F401  (registers the gate's start-up checks)

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
