"""The case workspace: a case, its conversation, contacts, notes, the steps the person may take,
risk and categories, consent and referral (with the packet the agency will get), and replies.

Every form is validated by the API's own input serializers and written by the apps' services, so a
rule the API enforces holds here word for word."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework.exceptions import ValidationError

from cases import selectors as case_selectors
from cases import services as case_services
from cases.api.serializers import NoteInput, TransitionInput
from cases.models import CaseLinkKind
from cases.workflow import TRANSITION_FIELDS, CallType, RiskLevel
from channels_sms import selectors as channel_selectors
from channels_sms.outbound import message_send
from helpline import policy
from helpline.selectors import team_queryset_for
from helpline.vocabulary import AuditAction, PolicyAction
from referrals import selectors as referral_selectors
from referrals import services as referral_services
from referrals.api.serializers import ConsentInput, ReferralCreateInput
from referrals.models import ConsentGiver, ConsentScope, Urgency
from referrals.packets import packet_for_reader, packet_preview

from ..base import ConsoleView, Fetch, Refused, Scoped, record_once, refused_from

TRANSITION_LABELS = {
    "start_assessment": gettext_lazy("Start assessment"),
    "dismiss": gettext_lazy("Dismiss"),
    "refer": gettext_lazy("Move to referral"),
    "start_follow_up": gettext_lazy("Start follow-up"),
    "close": gettext_lazy("Close"),
    "reopen": gettext_lazy("Reopen"),
}
assert set(TRANSITION_LABELS) == set(TRANSITION_FIELDS)


def _case_url(case_id: int, anchor: str = "") -> str:
    return reverse("console:case", args=[case_id]) + (f"#{anchor}" if anchor else "")


def _valid(serializer_class: type, data: Any, **kwargs: Any) -> dict:
    serializer = serializer_class(data=data, **kwargs)
    if not serializer.is_valid():
        raise refused_from(ValidationError(serializer.errors))
    return serializer.validated_data


class CaseView(ConsoleView):
    template_name = "console/case.html"
    page = PolicyAction.CASE_LIST
    scope = {"get": Fetch(case_selectors.case_get, "case_id")}

    def get(self, request: HttpRequest, case_id: int) -> HttpResponse:
        return self.render(workspace_context(request, self.object))


def workspace_context(request: HttpRequest, case: Any, **more: Any) -> dict:
    user = request.user
    transitions = case_services.case_available_transitions(case=case, user=user)
    # One read of the case (the page's fetch, on record) shows its parts with it.
    thread = channel_selectors.case_messages(case=case)
    record_thread_read(request, case.pk, thread, recorded=True)
    consent = referral_services.current_consent(case)
    context = {
        "case": case,
        "reporter_phone": case_selectors.reporter_phone_for(user=user, case=case),
        "messages_": thread,
        "contacts": list(case_selectors.case_contacts(case=case)),
        "notes": list(case_selectors.case_notes(user=user, case=case)),
        "transitions": [
            {"name": name, "label": TRANSITION_LABELS[name], "fields": TRANSITION_FIELDS[name]}
            for name in transitions
        ],
        "risk_levels": RiskLevel.choices,
        "categories": list(case_selectors.category_list(user=user)),
        "canned_replies": list(channel_selectors.canned_reply_list(user=user))
        if policy.can(user, PolicyAction.CANNED_REPLY_VIEW)
        else [],
        "may_reply": policy.can(user, PolicyAction.MESSAGE_SEND, case),
        "may_note": policy.can(user, PolicyAction.NOTE_CREATE, case),
        "may_edit": policy.can(user, PolicyAction.CASE_UPDATE, case),
        "may_refer": policy.can(user, PolicyAction.REFERRAL_CREATE, case),
        "may_history": policy.can(user, PolicyAction.CASE_HISTORY, case),
        "consent": consent,
        "consented": consent is not None and ConsentScope.REFERRAL in consent.scope,
        "consent_givers": ConsentGiver.choices,
        "consent_scopes": ConsentScope.choices,
        "referrals": list(referral_selectors.case_referrals(case=case)),
        "agencies": list(referral_selectors.agency_choices_for(user)),
        "urgencies": Urgency.choices,
        "now": timezone.now(),
        "call_types": CallType.choices,
        "may_transfer": policy.can(user, PolicyAction.CASE_TRANSFER, case),
        "teams": list(team_queryset_for(user).filter(is_active=True))
        if policy.can(user, PolicyAction.CASE_TRANSFER, case)
        else [],
        "links": case_selectors.case_link_list(user=user, case_id=case.pk, case=case),
        "link_kinds": CaseLinkKind.choices,
        "may_link": policy.can(user, PolicyAction.CASE_LINK, case),
    }
    context.update(more)
    return context


class ConversationView(ConsoleView):
    """The conversation alone: what the workspace asks for every few seconds."""

    template_name = "console/_conversation.html"
    page = PolicyAction.CASE_LIST
    scope = {"get": Scoped(channel_selectors.case_message_refresh, kwarg="case_id")}

    def get(self, request: HttpRequest, case_id: int) -> HttpResponse:
        thread = self.scoped()
        record_thread_read(request, case_id, thread)
        return self.render({"messages_": thread})


def record_thread_read(request: HttpRequest, case_id: int, thread: list, *, recorded: bool = False) -> None:
    """A conversation shown: recorded when its messages change since this session last recorded
    them (the workspace refreshes it every few seconds); `recorded`: the read was recorded already
    (the workspace's own read of it)."""
    ids = [m.pk for m in thread]
    key = f"console_thread_read_{case_id}"
    if recorded:
        record_once(request, key, ids, lambda: None)
        return
    record_once(
        request,
        key,
        ids,
        lambda: case_selectors.record_page_read(
            user=request.user,
            action=AuditAction.MESSAGE_LIST,
            object_type="channels_sms.message",
            rows=thread,
        ),
    )


class _CaseWrite(ConsoleView):
    page = PolicyAction.CASE_LIST
    action = AuditAction.CASE_UPDATE

    def __init_subclass__(cls, **kwargs: Any) -> None:
        cls.scope = {"post": Fetch(case_selectors.case_get, "case_id", action=cls.action, for_write=True)}
        super().__init_subclass__(**kwargs)

    def done(self, case_id: int, anchor: str = "") -> HttpResponse:
        return HttpResponseRedirect(_case_url(case_id, anchor))


class DismissView(_CaseWrite):
    """One click from the queue: the contact was silent, a prank, a wrong number..."""

    action = AuditAction.CASE_TRANSITION
    fields = {"post": frozenset({"call_type"})}

    def post(self, request: HttpRequest, case_id: int) -> HttpResponse:
        case_services.case_dismiss_as(
            actor=request.user, case=self.object, call_type=request.POST.get("call_type", "")
        )
        if getattr(request, "htmx", False):
            return HttpResponse("")  # the queue's row goes away
        return HttpResponseRedirect(reverse("console:queue"))


class TransitionView(_CaseWrite):
    action = AuditAction.CASE_TRANSITION
    fields = {"post": frozenset({"name", "reason", "follow_up_due_at"})}

    def post(self, request: HttpRequest, case_id: int) -> HttpResponse:
        data = {k: v for k, v in request.POST.items() if k in self.fields["post"] and v != ""}
        params = _valid(TransitionInput, data)
        case = case_services.case_transition(actor=request.user, case=self.object, **params)
        if not policy.visible_case_ids(request.user, [case.pk]):
            # Dismissed or handed on out of the person's scope: back to the queue.
            return HttpResponseRedirect(reverse("console:queue"))
        return self.done(case.pk)


class DetailsView(_CaseWrite):
    """Risk level and categories (the localised picker)."""

    fields = {"post": frozenset({"risk_level", "categories"})}

    def post(self, request: HttpRequest, case_id: int) -> HttpResponse:
        from cases.api.serializers import CaseUpdateInput

        data: dict[str, Any] = {"categories": request.POST.getlist("categories")}
        if request.POST.get("risk_level"):
            data["risk_level"] = request.POST["risk_level"]
        fields = _valid(CaseUpdateInput, data, partial=True, context={"request": request})
        case_services.case_update(actor=request.user, case=self.object, **fields)
        return self.done(case_id, "details")


class NoteView(_CaseWrite):
    action = AuditAction.NOTE_CREATE
    fields = {"post": frozenset({"body"})}

    def post(self, request: HttpRequest, case_id: int) -> HttpResponse:
        fields = _valid(NoteInput, {"body": request.POST.get("body", "")})
        case_services.note_create(actor=request.user, case=self.object, **fields)
        return self.done(case_id, "notes")


class ReplyView(_CaseWrite):
    action = AuditAction.MESSAGE_SEND
    fields = {"post": frozenset({"body", "canned_reply"})}

    def post(self, request: HttpRequest, case_id: int) -> HttpResponse:
        body = request.POST.get("body", "").strip()
        canned = request.POST.get("canned_reply", "")
        if canned and not canned.isdigit():
            raise Refused(400, [_("Choose one of the canned replies offered.")], {"canned_reply": []})
        if not body and not canned:
            raise Refused(400, [_("Write a reply or choose a canned one.")], {"body": []})
        message_send(
            actor=request.user, case=self.object, body=body, canned_reply=int(canned) if canned else None
        )
        if getattr(request, "htmx", False):
            thread = channel_selectors.case_message_list(user=request.user, case_id=case_id)
            return self.render({"messages_": list(thread)}, template="console/_conversation.html")
        return self.done(case_id, "conversation")


class ConsentView(_CaseWrite):
    action = AuditAction.CONSENT_RECORD
    fields = {"post": frozenset({"given_by", "scope"})}

    def post(self, request: HttpRequest, case_id: int) -> HttpResponse:
        data = {
            "given_by": request.POST.get("given_by", ""),
            "given_at": timezone.now().isoformat(),
            "scope": request.POST.getlist("scope"),
        }
        fields = _valid(ConsentInput, data)
        referral_services.consent_record(actor=request.user, case=self.object, **fields)
        return self.done(case_id, "referral")


class ReferView(_CaseWrite):
    """Two steps: `preview` shows exactly the packet the agency will get; `send` refers."""

    action = AuditAction.REFERRAL_CREATE
    fields = {"post": frozenset({"agency", "service_type", "urgency", "reason", "summary", "step"})}

    def post(self, request: HttpRequest, case_id: int) -> HttpResponse:
        data = {
            name: request.POST.get(name, "")
            for name in ("agency", "service_type", "urgency", "reason", "summary")
        }
        fields = _valid(ReferralCreateInput, data)
        agency = referral_selectors.referable_agency_get(user=request.user, agency_id=fields.pop("agency"))
        if agency is None:
            raise Refused(400, [_("Unknown or inactive agency.")], {"agency": []})
        if request.POST.get("step") == "preview":
            consent = referral_services.current_consent(self.object)
            if consent is None or ConsentScope.REFERRAL not in consent.scope:
                raise Refused(409, [_("Record the child's consent to a referral first.")])
            # What the preview shows of the case is a read of it, on record.
            case_selectors.case_get(user=request.user, case_id=case_id)
            packet = packet_for_reader(
                packet_preview(
                    case=self.object,
                    agency=agency,
                    service_type=fields["service_type"],
                    urgency=fields["urgency"],
                    summary=fields["summary"],
                ),
                user=request.user,
                case=self.object,
            )
            return self.render(
                workspace_context(
                    request, self.object, preview=packet, preview_form=data, preview_agency=agency
                ),
                template="console/case.html",
            )
        referral_services.referral_create(actor=request.user, case=self.object, agency=agency, **fields)
        return self.done(case_id, "referral")


class ContactView(ConsoleView):
    """Classifying one contact of the case (its call type), as `PATCH /api/v1/contacts/{id}/`."""

    page = PolicyAction.CASE_LIST
    scope = {
        "post": Fetch(
            case_selectors.contact_get, "contact_id", action=AuditAction.CONTACT_UPDATE, for_write=True
        )
    }
    fields = {"post": frozenset({"call_type"})}

    def post(self, request: HttpRequest, case_id: int, contact_id: int) -> HttpResponse:
        from cases.api.serializers import ContactUpdateInput

        if self.object.case_id != case_id:
            raise Refused(404, [_("Not found.")])
        fields = _valid(ContactUpdateInput, {"call_type": request.POST.get("call_type", "")})
        case_services.contact_update(actor=request.user, contact=self.object, **fields)
        return HttpResponseRedirect(_case_url(case_id, "contacts"))


class TransferView(_CaseWrite):
    """Handing the case over to a colleague or a team, with a note."""

    action = AuditAction.CASE_TRANSFER
    fields = {"post": frozenset({"to_user", "to_team", "note"})}

    def post(self, request: HttpRequest, case_id: int) -> HttpResponse:
        from cases.api.serializers import TransferInput

        data = {k: v for k, v in request.POST.items() if k in self.fields["post"] and v != ""}
        fields = _valid(TransferInput, data, context={"request": request})
        case_services.case_transfer(actor=request.user, case=self.object, **fields)
        if not policy.visible_case_ids(request.user, [case_id]):
            return HttpResponseRedirect(reverse("console:queue"))
        return self.done(case_id)


class LinkView(_CaseWrite):
    """Linking the case to another one the person can see, named by its reference."""

    action = AuditAction.CASE_LINK_CREATE
    fields = {"post": frozenset({"reference", "kind"})}

    def post(self, request: HttpRequest, case_id: int) -> HttpResponse:
        from cases.api.serializers import CaseLinkInput

        reference = request.POST.get("reference", "").strip()[:40]
        found = (
            list(case_selectors.case_list(user=request.user, filters={"reference": reference})[:1])
            if reference
            else []
        )
        if not found:
            raise Refused(400, [_("No case you may see has this reference.")], {"reference": []})
        fields = _valid(CaseLinkInput, {"case": found[0].pk, "kind": request.POST.get("kind", "")})
        other = case_selectors.case_get(
            user=request.user, case_id=fields["case"], action=AuditAction.CASE_LINK_CREATE, for_write=True
        )
        case_services.case_link_create(actor=request.user, case=self.object, other=other, kind=fields["kind"])
        return self.done(case_id, "links")
