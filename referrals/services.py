"""Every write to agencies, consent and referrals: one transaction each, audit entry included, and
the agency's notification queued in the same transaction."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework.exceptions import PermissionDenied

from cases.models import Case, Escalation, EscalationKind
from cases.services import escalation_raise
from cases.workflow import CaseState
from helpline import crypto, policy
from helpline.audit import audit_record, audited_update, diff
from helpline.errors import Conflict
from helpline.models import AuditOutcome, Helpline, Role, User
from helpline.transitions import (
    available_transitions,
    refusal_code,
    state_conflict,
    transition_params,
    transition_run,
)
from helpline.vocabulary import AuditAction, PolicyAction
from notifications.models import NotificationKind
from notifications.services import notify

from . import webhooks
from .models import (
    Agency,
    AgencySector,
    Consent,
    ConsentBasis,
    ConsentScope,
    Referral,
    ReferralUpdate,
    UpdateAuthor,
    Urgency,
)
from .notifications import agency_notify
from .packets import packet_build, packet_warnings
from .workflow import TRANSITION_FIELDS, ReferralState

AGENCY_FIELDS = (
    "code",
    "name",
    "sector",
    "country",
    "areas_served",
    "service_types",
    "response_hours",
    "notify_email",
    "notify_sms",
    "is_active",
)
# Changed only through a proposal a supervisor approves (referrals.webhooks).
WEBHOOK_FIELDS = ("webhook_url", "webhook_secret")

REFERABLE_CASE_STATES = (CaseState.ASSESSMENT, CaseState.REFERRAL, CaseState.FOLLOW_UP)
# Vital interests: an emergency referral to these sectors may go without consent.
VITAL_INTEREST_SECTORS = (AgencySector.POLICE, AgencySector.HEALTH)


# --- agencies -------------------------------------------------------------------------------------


def agency_create(*, actor: User, helpline: Helpline, **fields: Any) -> Agency:
    """Registers an agency. A webhook URL given with it is a proposal, in use once a supervisor
    approved it and the endpoint answered the challenge (referrals.webhooks)."""
    if not policy.can(actor, PolicyAction.AGENCY_MANAGE, helpline):
        raise PermissionDenied(_("Only administrators manage agencies."))
    fields.setdefault("country", helpline.country)
    webhook = {f: fields.pop(f) for f in WEBHOOK_FIELDS if f in fields}
    with transaction.atomic():
        agency = Agency(helpline=helpline, **fields)
        agency.full_clean()
        agency.save()
        audit_record(
            actor=actor,
            action=AuditAction.AGENCY_CREATE,
            obj=agency,
            helpline=helpline,
            changes=diff({}, {f: getattr(agency, f) for f in AGENCY_FIELDS}),
        )
        if webhook.get("webhook_url"):
            webhooks.webhook_change_propose(actor=actor, agency=agency, fields=webhook)
    return agency


def agency_update(*, actor: User, agency: Agency, **fields: Any) -> Agency:
    """Changes an agency; a change of its webhook URL or secret is a proposal (see agency_create),
    a removal of its URL takes effect at once."""
    if not policy.can(actor, PolicyAction.AGENCY_MANAGE, agency):
        raise PermissionDenied(_("Only administrators manage agencies."))
    webhook = {f: fields.pop(f) for f in WEBHOOK_FIELDS if f in fields}
    with transaction.atomic():
        agency = audited_update(
            actor=actor,
            instance=agency,
            fields=fields,
            tracked=AGENCY_FIELDS,
            action=AuditAction.AGENCY_UPDATE,
            helpline=agency.helpline_id,
        )
        if webhook:
            webhooks.webhook_change_propose(actor=actor, agency=agency, fields=webhook)
    return agency


# --- consent --------------------------------------------------------------------------------------


def consent_record(
    *, actor: User, case: Case, given_by: str, given_at: datetime, scope: list[str]
) -> Consent:
    """Records the consent given now for the case; it replaces any earlier record. An empty scope
    records that consent was refused or withdrawn."""
    if not policy.can(actor, PolicyAction.CONSENT_RECORD, case):
        raise PermissionDenied(_("Your role may not record consent on this case."))
    if given_at > timezone.now() + timedelta(minutes=5):
        raise ValidationError({"given_at": _("Consent cannot be given in the future.")})
    with transaction.atomic():
        Case.objects.select_for_update(of=("self",)).filter(pk=case.pk).first()
        now = timezone.now()
        superseded = list(
            Consent.objects.filter(case=case, withdrawn_at__isnull=True).values_list("pk", flat=True)
        )
        Consent.objects.filter(pk__in=superseded).update(withdrawn_at=now)
        consent = Consent.objects.create(
            case=case, given_by=given_by, given_at=given_at, scope=sorted(set(scope)), recorded_by=actor
        )
        audit_record(
            actor=actor,
            action=AuditAction.CONSENT_RECORD,
            obj=consent,
            case_id=case.pk,
            helpline=case.helpline_id,
            extra={"given_by": given_by, "scope": consent.scope, "superseded": superseded},
        )
    return consent


def current_consent(case: Case) -> Consent | None:
    return (
        Consent.objects.filter(case=case, withdrawn_at__isnull=True).order_by("-recorded_at", "-id").first()
    )


# --- referrals ------------------------------------------------------------------------------------


def _respond_by(agency: Agency, urgency: str, sent_at: datetime) -> datetime:
    return sent_at + timedelta(hours=agency.response_hours_for(urgency))


def _freeze_and_send(referral: Referral, *, event: str = "referral.sent") -> None:
    referral.packet_json = json.dumps(packet_build(referral), sort_keys=True)
    referral.save(update_fields=["packet_json"])
    agency_notify(referral=referral, event=event, data={"state": referral.state, "packet": referral.packet})


def _escalate(referral: Referral, kind: str, detail: str) -> Escalation:
    return escalation_raise(case=referral.case, kind=kind, detail=detail, referral=referral)


def _check_agency_fit(
    *, helpline: Helpline, agency: Agency, service_type: str, reported_urls: list[str]
) -> None:
    if agency.helpline_id != helpline.pk or not agency.is_active:
        raise ValidationError({"agency": _("Unknown or inactive agency.")})
    if agency.service_types and service_type not in agency.service_types:
        raise ValidationError(
            {
                "service_type": _("%(agency)s offers: %(service_types)s.")
                % {"agency": agency.name, "service_types": ", ".join(agency.service_types)}
            }
        )
    if agency.sector == AgencySector.ONLINE_ABUSE_HOTLINE and not reported_urls:
        raise ValidationError({"reported_urls": _("An online-abuse hotline needs the reported URLs.")})
    if agency.sector != AgencySector.ONLINE_ABUSE_HOTLINE and reported_urls:
        raise ValidationError({"reported_urls": _("Only online-abuse hotlines receive reported URLs.")})


def referral_create(
    *,
    actor: User,
    case: Case,
    agency: Agency,
    service_type: str,
    urgency: str,
    reason: str,
    summary: str,
    reported_urls: list[str] | None = None,
    platform: str = "",
    override_reason: str = "",
    resent_from: Referral | None = None,
) -> Referral:
    """Refers the child (case already in the caller's scope) to an agency.

    Consent is enforced here: without a recorded consent covering referral, 409 unless a
    supervisor overrides with a reason, or it is an emergency referral to police or health (the
    child's vital interests), which escalates to the supervisors at once. A referral to an agency
    in another country waits for a supervisor's approval unless a supervisor sends it."""
    reported_urls = list(reported_urls or [])
    if not policy.can(actor, PolicyAction.REFERRAL_CREATE, case):
        raise PermissionDenied(_("Your role may not refer this case."))
    _check_agency_fit(
        helpline=case.helpline, agency=agency, service_type=service_type, reported_urls=reported_urls
    )
    refusal: Exception | None = None
    with transaction.atomic():
        # The case lock orders this against a concurrent close: a case never closes with a
        # referral created behind its back.
        locked = Case.objects.select_for_update(of=("self",)).select_related("helpline").get(pk=case.pk)
        # Under the case lock: a double-clicked or retried re-send creates one referral.
        if resent_from is not None and Referral.objects.filter(resent_from=resent_from).exists():
            raise Conflict(_("This referral was already re-sent."), code="referral_already_resent")
        consent = current_consent(locked)
        consented = consent is not None and ConsentScope.REFERRAL in consent.scope
        if locked.state not in REFERABLE_CASE_STATES:
            refusal = Conflict(
                _(
                    "A case in state %(state)r cannot be referred; "
                    "referrals are made in assessment, referral or follow-up."
                )
                % {"state": locked.state},
                code="case_not_referable",
            )
        elif consented:
            basis = ConsentBasis.CONSENT
        elif override_reason:
            if not policy.can(actor, PolicyAction.REFERRAL_OVERRIDE_CONSENT, locked):
                refusal = PermissionDenied(_("Only a supervisor may refer without consent."))
            basis = ConsentBasis.SUPERVISOR_OVERRIDE
        elif urgency == Urgency.EMERGENCY and agency.sector in VITAL_INTEREST_SECTORS:
            basis = ConsentBasis.VITAL_INTERESTS
        else:
            refusal = Conflict(
                # Translators: keep the path (POST /api/v1/cases/{id}/consent/) as it is.
                _(
                    "The case has no consent for referral. Record it (POST /api/v1/cases/{id}/consent/), "
                    "or ask a supervisor to override with a reason; only emergency referrals to police "
                    "or health may go without."
                ),
                code="consent_required",
            )
        if refusal is not None:
            audit_record(
                actor=actor,
                action=AuditAction.REFERRAL_CREATE,
                object_type="referrals.referral",
                case_id=locked.pk,
                helpline=locked.helpline_id,
                outcome=AuditOutcome.DENIED,
                extra={"agency_id": agency.pk, "urgency": urgency, "refusal": refusal_code(refusal)},
            )
        else:
            cross_border = agency.country.upper() != locked.helpline.country.upper()
            supervisor_sends = policy.can(actor, PolicyAction.REFERRAL_APPROVE, locked)
            now = timezone.now()
            referral = Referral(
                helpline_id=locked.helpline_id,
                case=locked,
                agency=agency,
                service_type=service_type,
                urgency=urgency,
                reason=reason,
                summary=summary,
                reported_urls=reported_urls,
                platform=platform,
                consent_basis=basis,
                consent=consent if basis == ConsentBasis.CONSENT else None,
                override_reason=override_reason if basis == ConsentBasis.SUPERVISOR_OVERRIDE else "",
                resent_from=resent_from,
                created_by=actor,
                state=ReferralState.AWAITING_APPROVAL
                if cross_border and not supervisor_sends
                else ReferralState.SENT,
            )
            if referral.state == ReferralState.SENT:
                referral.sent_at = now
                referral.respond_by = _respond_by(agency, urgency, now)
                referral.approved_by = actor if cross_border else None
            referral.full_clean(
                exclude=["case", "agency", "helpline", "created_by", "consent", "resent_from", "state"]
            )
            referral.save()
            # What the agency could act on (the packet as it is or will be sent): an empty one is
            # sent all the same, and the operator is told (referral.warnings, in the 201 answer).
            referral.warnings = packet_warnings(referral, packet_build(referral))
            audit_record(
                actor=actor,
                action=AuditAction.REFERRAL_CREATE,
                obj=referral,
                case_id=locked.pk,
                helpline=locked.helpline_id,
                extra={
                    "warnings": [warning["code"] for warning in referral.warnings],
                    "agency_id": agency.pk,
                    "urgency": urgency,
                    "service_type": service_type,
                    "state": referral.state,
                    "consent_basis": basis,
                    "override_reason": crypto.seal(referral.override_reason, case_id=locked.pk),
                    "cross_border": cross_border,
                    "resent_from": resent_from.pk if resent_from else None,
                },
            )
            if urgency == Urgency.EMERGENCY:
                # The case's people and its supervisors (out of hours the on-call) hear at once.
                notify(
                    kind=NotificationKind.EMERGENCY_REFERRAL,
                    case=locked,
                    actor=actor,
                    referral_id=referral.pk,
                )
            if basis == ConsentBasis.VITAL_INTERESTS:
                escalation = _escalate(
                    referral,
                    EscalationKind.EMERGENCY_REFERRAL,
                    f"Emergency referral to {agency.name} sent without consent (vital interests).",
                )
                audit_record(
                    actor=None,
                    action=AuditAction.REFERRAL_ESCALATE,
                    obj=referral,
                    case_id=locked.pk,
                    helpline=locked.helpline_id,
                    extra={"escalation_id": escalation.pk, "kind": escalation.kind},
                )
            if referral.state == ReferralState.SENT:
                _freeze_and_send(referral)
    if refusal is not None:
        raise refusal
    return referral


def referral_available_transitions(*, referral: Referral, user: User) -> list[str]:
    return available_transitions(referral, user)


def referral_transition(*, actor: User, referral: Referral, name: str, **params: Any) -> Referral:
    """Moves a referral (already in the caller's scope) along one edge (helpline.transitions): 409
    when not possible from its state (also when a concurrent request won), or when `expected_state`
    is given and the referral has moved on from it; 403 when the caller's role may not."""
    expected_state = params.pop("expected_state", None)
    params = transition_params(
        name=name,
        fields=TRANSITION_FIELDS,
        params=params,
        unknown_detail=_("Unknown transition %(name)r.") % {"name": name},
        required_detail=_("This field is required."),
    )

    def moved_on(locked: Referral) -> Exception | None:
        # A racing request (accept vs withdraw) that won: the loser gets 409.
        if expected_state is None or expected_state == locked.state:
            return None
        return state_conflict(
            locked,
            actor,
            # Translators: %(transition)s is the transition's code (accept, reject, withdraw, ...).
            _("The referral is now %(state)r, not %(expected)r: read it again before you %(transition)s it.")
            % {"state": locked.state, "expected": expected_state, "transition": name},
            code="state_changed",
        )

    def prepare(locked: Referral, params: dict[str, Any]) -> None:
        if name == "approve":
            params["respond_by"] = _respond_by(locked.agency, locked.urgency, timezone.now())

    def after(locked: Referral) -> None:
        if name == "approve":
            _freeze_and_send(locked)
        else:
            agency_notify(
                referral=locked,
                event=f"referral.{locked.state}",
                data={"state": locked.state, **_public_change(locked, name)},
            )
        if name == "reject":
            _escalate(
                locked,
                EscalationKind.REFERRAL_REJECTED,
                f"{locked.agency.name} rejected the referral: {locked.rejection_reason}. Refer elsewhere.",
            )

    return transition_run(
        actor=actor,
        locking=Referral.objects.select_related("agency", "case", "case__helpline", "consent"),
        pk=referral.pk,
        name=name,
        params=params,
        action=AuditAction(f"referral.{name}"),
        audit_target=lambda locked: {"case_id": locked.case_id, "helpline": locked.helpline_id},
        snapshot=lambda locked: locked.state,
        changes=lambda before, locked: {"state": {"before": before, "after": locked.state}},
        audit_extra=lambda locked, params: {
            k: _audited(k, v, case_id=locked.case_id) for k, v in params.items() if k != "outcome_note"
        },
        # Translators: %(transition)s is the transition's code (accept, reject, withdraw, ...).
        forbidden_detail=_("Your role may not %(transition)s this referral.") % {"transition": name},
        precheck=moved_on,
        prepare=prepare,
        after=after,
    )


def _audited(name: str, value: Any, *, case_id: int) -> Any:
    """A transition parameter as its audit entry records it: the reason people typed sealed under
    the case's key (erased with the case, helpline.crypto.seal); dates and the outcome code as
    they are."""
    if name == "reason":
        return crypto.seal(value, case_id=case_id)
    return value.isoformat() if isinstance(value, datetime) else value


def _public_change(referral: Referral, name: str) -> dict[str, Any]:
    """What the agency is told about a change (the helpline's reasons stay internal except the
    withdrawal reason, which the agency needs to stop work)."""
    if name == "withdraw":
        return {"withdrawal_reason": referral.withdrawal_reason}
    if name == "complete":
        return {"outcome": referral.outcome}
    if name == "reject":
        return {"rejection_reason": referral.rejection_reason}
    return {}


def referral_update_post(*, actor: User, referral: Referral, body: str) -> ReferralUpdate:
    """An agency's progress update on an accepted referral, or a helpline's update to the agency
    on a live referral (the agency never reads the case, so changes reach it this way)."""
    if not policy.can(actor, PolicyAction.REFERRAL_POST_UPDATE, referral):
        raise PermissionDenied(_("Your role may not post updates on this referral."))
    from_agency = actor.role == Role.AGENCY
    with transaction.atomic():
        locked = Referral.objects.select_for_update(of=("self",)).select_related("agency").get(pk=referral.pk)
        allowed_states = (
            (ReferralState.ACCEPTED,) if from_agency else (ReferralState.SENT, ReferralState.ACCEPTED)
        )
        if locked.state not in allowed_states:
            if from_agency:
                # Translators: "accepted" is a referral state's code; %(state)s is one too.
                detail = _("Updates are posted on accepted referrals; this one is %(state)s.")
            else:
                # Translators: "sent" and "accepted" are referral states' codes; %(state)s is one too.
                detail = _("Updates are posted on sent or accepted referrals; this one is %(state)s.")
            refusal = Conflict(
                detail % {"state": locked.state},
                code="referral_not_open_for_updates",
            )
            audit_record(
                actor=actor,
                action=AuditAction.REFERRAL_POST_UPDATE,
                obj=locked,
                case_id=locked.case_id,
                helpline=locked.helpline_id,
                outcome=AuditOutcome.DENIED,
                extra={"state": locked.state},
            )
        else:
            refusal = None
            update = ReferralUpdate.objects.create(
                referral=locked,
                from_party=UpdateAuthor.AGENCY if from_agency else UpdateAuthor.HELPLINE,
                author=actor,
                body=body,
            )
            audit_record(
                actor=actor,
                action=AuditAction.REFERRAL_POST_UPDATE,
                obj=update,
                case_id=locked.case_id,
                helpline=locked.helpline_id,
                changes=diff({}, {"body": body}, personal={"body"}),
                extra={"referral_id": locked.pk, "from": update.from_party},
            )
            if not from_agency:
                agency_notify(
                    referral=locked,
                    event="referral.update",
                    data={"update_id": update.pk, "body": body, "at": update.created_at.isoformat()},
                )
    if refusal is not None:
        raise refusal
    return update


def referral_resend(
    *,
    actor: User,
    referral: Referral,
    agency: Agency,
    service_type: str | None = None,
    override_reason: str = "",
) -> Referral:
    """Sends an expired or rejected referral again, to another agency."""
    if referral.state not in (ReferralState.EXPIRED, ReferralState.REJECTED):
        raise Conflict(
            _("Only an expired or rejected referral is re-sent; withdraw this one first."),
            code="referral_not_resendable",
        )
    if agency.pk == referral.agency_id:
        raise ValidationError({"agency": _("Re-send to another agency.")})
    return referral_create(
        actor=actor,
        case=referral.case,
        agency=agency,
        service_type=service_type or referral.service_type,
        urgency=referral.urgency,
        reason=referral.reason,
        summary=referral.summary,
        reported_urls=referral.reported_urls,
        platform=referral.platform,
        override_reason=override_reason,
        resent_from=referral,
    )


def expire_unanswered_referrals(*, now: datetime | None = None, batch_size: int = 200) -> int:
    """Beat: referrals still `sent` past their response deadline expire; the case's supervisors
    get an escalation and the agency is told. Safe to run concurrently and repeatedly."""
    now = now or timezone.now()
    expired = 0
    while True:
        with transaction.atomic():
            due = list(
                Referral.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("agency", "case")
                .filter(state=ReferralState.SENT, respond_by__lte=now)
                .order_by("respond_by")[:batch_size]
            )
            for referral in due:
                referral.expire()
                referral.save()
                escalation = _escalate(
                    referral,
                    EscalationKind.REFERRAL_EXPIRED,
                    f"{referral.agency.name} did not answer the {referral.urgency} referral by "
                    f"{referral.respond_by:%Y-%m-%d %H:%M} UTC. Re-send it to another agency.",
                )
                audit_record(
                    actor=None,
                    action=AuditAction.REFERRAL_EXPIRE,
                    obj=referral,
                    case_id=referral.case_id,
                    helpline=referral.helpline_id,
                    changes={"state": {"before": ReferralState.SENT, "after": ReferralState.EXPIRED}},
                    extra={"respond_by": referral.respond_by.isoformat(), "escalation_id": escalation.pk},
                )
                agency_notify(referral=referral, event="referral.expired", data={"state": referral.state})
                expired += 1
        if len(due) < batch_size:
            return expired
