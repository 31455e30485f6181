from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class CasesConfig(AppConfig):
    name = "cases"
    verbose_name = gettext_lazy("Cases and contacts")

    def ready(self) -> None:
        from django.core import checks

        from helpline import labels
        from helpline.provided import CasesProvided, provide_cases

        from . import models
        from .models import Case, CaseAccess
        from .services import category_defaults_install
        from .services.retention import erasure_check
        from .workflow import DEFAULT_DUE_MINUTES, CallType, CaseState, RiskLevel

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
                category_codes=lambda helpline_id: models.Category.objects.filter(
                    helpline_id=helpline_id
                ).values_list("code", flat=True),
            )
        )
        # The codes whose labels people read (GET /api/v1/vocabularies/, helpline.labels).
        for name, choices in {
            "case_state": CaseState,
            "risk_level": RiskLevel,
            "call_type": CallType,
            "channel": models.Channel,
            "direction": models.Direction,
            "age_range": models.AgeRange,
            "gender": models.Gender,
            "vulnerability_flag": models.VulnerabilityFlag,
            "reporter_relation": models.ReporterRelation,
            "case_link_kind": models.CaseLinkKind,
            "escalation_kind": models.EscalationKind,
            "access_kind": models.AccessKind,
        }.items():
            labels.register(name, choices)
