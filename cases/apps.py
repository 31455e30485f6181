from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "cases"
    verbose_name = "Cases and contacts"

    def ready(self) -> None:
        from django.core import checks

        from helpline.provided import CasesProvided, provide_cases

        from .models import Case, CaseAccess
        from .services import category_defaults_install
        from .services.retention import erasure_check
        from .workflow import DEFAULT_DUE_MINUTES, RiskLevel

        # Refuses to start when an app keeping data about cases registered no eraser.
        checks.register(erasure_check, checks.Tags.models)

        # Hand helpline (the floor below) what its policy and services need of cases, without
        # helpline importing this app (helpline.provided).
        provide_cases(
            CasesProvided(
                case_model=Case,
                grant_model=CaseAccess,
                helpline_created=lambda helpline: category_defaults_install(helpline=helpline),
                due_states=frozenset(DEFAULT_DUE_MINUTES),
                risk_levels=tuple(RiskLevel.values),
            )
        )
