"""An agency's referral inbox: the packet the helpline sent (never the case), and the answers
the agency gives (accept, reject, progress, complete)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _

from helpline.vocabulary import AuditAction, PolicyAction
from referrals import selectors as referral_selectors
from referrals import services as referral_services
from referrals.api.serializers import (
    ReferralCompleteInput,
    ReferralRejectInput,
    ReferralTransitionInput,
    ReferralUpdateInput,
)
from referrals.models import Outcome

from ..base import ConsoleView, Fetch, Refused, Scoped
from .workspace import _valid

INBOX_LENGTH = 100
ANSWERS = {
    "accept": ReferralTransitionInput,
    "reject": ReferralRejectInput,
    "complete": ReferralCompleteInput,
}


class InboxView(ConsoleView):
    template_name = "console/inbox.html"
    page = PolicyAction.REFERRAL_LIST_SENT_TO_AGENCY
    scope = {"get": Scoped(referral_selectors.referral_list)}

    def get(self, request: HttpRequest) -> HttpResponse:
        referrals = list(self.scoped()[:INBOX_LENGTH])
        referral_selectors.record_referral_list_read(user=request.user, referrals=referrals, filters={})
        return self.render({"referrals": referrals})


class ReferralView(ConsoleView):
    template_name = "console/referral.html"
    page = PolicyAction.REFERRAL_LIST_SENT_TO_AGENCY
    scope = {
        "get": Fetch(referral_selectors.referral_get, "referral_id"),
        # The answer's own service records it (and a refusal); the fetch records only a refusal.
        "post": Fetch(
            referral_selectors.referral_get, "referral_id", action=AuditAction.REFERRAL_ACCEPT, for_write=True
        ),
    }
    fields = {"post": frozenset({"answer", "reason", "outcome", "outcome_note", "body", "expected_state"})}

    def get(self, request: HttpRequest, referral_id: int) -> HttpResponse:
        referral = self.object
        return self.render(
            {
                "referral": referral,
                "packet": referral.packet,
                "available": referral_services.referral_available_transitions(
                    referral=referral, user=request.user
                ),
                "updates": list(referral_selectors.referral_updates(referral=referral)),
                "outcomes": Outcome.choices,
            }
        )

    def post(self, request: HttpRequest, referral_id: int) -> HttpResponse:
        answer = request.POST.get("answer", "")
        data = {
            k: v for k, v in request.POST.items() if k in self.fields["post"] and k != "answer" and v != ""
        }
        if answer == "update":
            fields = _valid(ReferralUpdateInput, {"body": data.get("body", "")})
            referral_services.referral_update_post(actor=request.user, referral=self.object, **fields)
        elif answer in ANSWERS:
            data.pop("body", None)
            fields = _valid(ANSWERS[answer], data)
            referral_services.referral_transition(
                actor=request.user, referral=self.object, name=answer, **fields
            )
        else:
            raise Refused(400, [_("Choose one of the answers offered.")], {"answer": []})
        return HttpResponseRedirect(reverse("console:referral", args=[referral_id]))
