"""What referrals keep about a case, erased with it when the case is anonymised (registered with
cases.services.retention in ReferralsConfig.ready)."""

import pgtrigger

from cases.models import Case

from .models import Delivery, Referral, ReferralUpdate


def referrals_erase(case: Case) -> int:
    """The referral packets, summaries, updates and notification bodies of an anonymised case
    carry the same personal data as the case, so they go with it. Returns the referrals erased."""
    erased = Referral.objects.filter(case=case).update(
        reason="",
        summary="",
        packet_json="",
        reported_urls=[],
        platform="",
        override_reason="",
        rejection_reason="",
        withdrawal_reason="",
        outcome_note="",
    )
    with pgtrigger.ignore("referrals.ReferralUpdate:referral_update_append_only"):
        ReferralUpdate.objects.filter(referral__case=case).update(body="")
    Delivery.objects.filter(referral__case=case).update(body="")
    return erased
