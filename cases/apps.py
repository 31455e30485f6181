from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "cases"
    verbose_name = "Cases and contacts"

    def ready(self) -> None:
        from django.core import checks

        from .services.retention import erasure_check

        # Refuses to start when an app keeping data about cases registered no eraser.
        checks.register(erasure_check, checks.Tags.models)
