from django.apps import AppConfig


class ReferralsConfig(AppConfig):
    name = "referrals"
    verbose_name = "Referrals and partner agencies"

    def ready(self) -> None:
        from cases.services.retention import register_erasure
        from helpline import labels
        from helpline.provided import AgenciesProvided, provide_agencies

        from . import models
        from .erasure import referrals_erase
        from .memberships import USER_AGENCY, agency_membership_set, agency_of
        from .models import Agency
        from .workflow import ReferralState

        # Anonymising a case erases its referrals too ("referrals_erased" in its audit entry).
        register_erasure("referrals", referrals_erase)
        # Hand helpline (the floor below) what its users service and policy need of a person's
        # agency, without helpline importing this app (helpline.provided).
        provide_agencies(
            AgenciesProvided(
                agency_model=Agency,
                agency_of=agency_of,
                membership_set=agency_membership_set,
                user_related=USER_AGENCY,
            )
        )
        # The codes whose labels people read (GET /api/v1/vocabularies/, helpline.labels).
        for name, choices in {
            "referral_state": ReferralState,
            "agency_sector": models.AgencySector,
            "urgency": models.Urgency,
            "consent_giver": models.ConsentGiver,
            "consent_scope": models.ConsentScope,
            "consent_basis": models.ConsentBasis,
            "referral_outcome": models.Outcome,
            "referral_update_author": models.UpdateAuthor,
        }.items():
            labels.register(name, choices)
