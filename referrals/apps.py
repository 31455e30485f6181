from django.apps import AppConfig


class ReferralsConfig(AppConfig):
    name = "referrals"
    verbose_name = "Referrals and partner agencies"

    def ready(self) -> None:
        from cases.services.retention import register_erasure

        from .erasure import referrals_erase

        # Anonymising a case erases its referrals too ("referrals_erased" in its audit entry).
        register_erasure("referrals", referrals_erase)
