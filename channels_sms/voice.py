"""Inbound voice calls: the webhooks store each Twilio request first (an InboundEvent, unique on
CallSid + status), answer TwiML, and a task (channels_sms.tasks) turns the call into a voice contact
of the caller's open case (or a new intake case), flags emergencies (through
cases.services.case_flag_emergency) and files abandoned calls in the callback queue. Every write is
one transaction with its audit entry; no number ever goes into a log or audit entry."""

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework.exceptions import PermissionDenied
from twilio.twiml.voice_response import VoiceResponse

from cases.models import Case, Contact
from cases.services import case_create_from_inbound, case_flag_emergency, contact_create_inbound
from cases.workflow import CaseState
from helpline import broker, policy
from helpline.audit import REDACTED, audit_record
from helpline.errors import Conflict
from helpline.models import User
from helpline.vocabulary import AuditAction, PolicyAction

from . import contacters, texts
from .models import (
    Callback,
    ContacterFlagKind,
    InboundEvent,
    NumberChannel,
    PhoneNumber,
    VoiceEventKind,
    VoiceMode,
    VoiceRoute,
)
from .senders import lock_sender, params_json, sender_hash, sender_phone

logger = logging.getLogger(__name__)

# Call statuses and queue/dial results after which nobody spoke with the caller.
ABANDONED_STATUSES = ("no-answer", "busy", "failed", "canceled")
ABANDONED_QUEUE_RESULTS = ("hangup", "leave")
FINAL_STATUSES = ("completed", *ABANDONED_STATUSES)


@dataclass(frozen=True)
class Prompts:
    greeting: str
    emergency: str  # "{digit}" stands for the emergency digit
    connecting: str
    language: str | None  # the language of Twilio's <Say>; None: Twilio's default voice
    # Recordings played instead (settings.VOICE_RECORDINGS), by prompt: greeting, emergency, connecting.
    recordings: dict[str, str] = field(default_factory=dict)


# The prompts in the languages of this installation, translated (gettext) into the language of the
# number's callers (texts.contact_language).
TRANSLATED = (
    # Translators: spoken to a child calling the helpline (text to speech).
    gettext_lazy("Thank you for calling the child helpline. You are not alone."),
    # Translators: spoken to a child calling the helpline; {digit} is the key to press, keep it.
    gettext_lazy("If you are in danger now, press {digit}."),
    # Translators: spoken to a child waiting to talk with a counsellor.
    gettext_lazy("Please stay on the line, a counsellor will talk with you soon."),
)
# Twilio's <Say> voice per language (a regional one where the helpline's country has it). Twilio
# speaks no Mongolian: a Mongolian deployment plays recordings (settings.VOICE_RECORDINGS); without
# them the prompts are sent in Cyrillic without a language, which Twilio's default voice reads
# poorly (docs/languages.md).
SAY_LANGUAGES = {"en": "en-GB", "es": "es-ES", "mn": None}
REGIONAL_VOICES = {"en-US", "en-AU", "en-IN", "es-MX", "es-US"}
# Languages this installation has no catalogue for, spoken as written here: helplines stored with
# them before a helpline's languages were checked keep their prompts.
PROMPTS: dict[str, Prompts] = {
    "sw": Prompts(
        "Asante kwa kupiga simu ya msaada kwa watoto. Hauko peke yako.",
        "Kama uko hatarini sasa hivi, bonyeza {digit}.",
        "Tafadhali subiri, mshauri atazungumza nawe hivi karibuni.",
        None,
    ),
    "fr": Prompts(
        "Merci d'appeler la ligne d'écoute pour enfants. Tu n'es pas seul.",
        "Si tu es en danger maintenant, appuie sur {digit}.",
        "Reste en ligne, un conseiller va te parler bientôt.",
        "fr-FR",
    ),
    "pt": Prompts(
        "Obrigado por ligar para a linha de ajuda à criança. Não estás sozinho.",
        "Se estás em perigo agora, carrega no {digit}.",
        "Fica em linha, um conselheiro vai falar contigo em breve.",
        "pt-PT",
    ),
}


def prompts_for(language: str, country: str = "") -> Prompts:
    """The language's prompts (`sw-KE` reads as `sw`): written here, else ours translated into the
    active language (callers: inside translation.override(texts.contact_language(number)))."""
    base = (language or "").lower().split("-")[0]
    if base in PROMPTS:
        return PROMPTS[base]
    spoken = translation.get_language() or settings.LANGUAGE_CODE
    voice = SAY_LANGUAGES.get(spoken, SAY_LANGUAGES[settings.LANGUAGE_CODE])
    regional = f"{spoken}-{(country or '').upper()}"
    return Prompts(
        *(str(text) for text in TRANSLATED),
        regional if regional in REGIONAL_VOICES else voice,
        recordings=dict(settings.VOICE_RECORDINGS.get(spoken) or {}),
    )


def voice_route_of(number: PhoneNumber) -> VoiceRoute:
    """The number's voice configuration, or the defaults (enqueue, digit 9) when it has none."""
    try:
        return number.voice_route
    except VoiceRoute.DoesNotExist:
        return VoiceRoute(number=number)


def _url(name: str) -> str:
    # Twilio calls us back on the public URL (the same base the signatures are checked against).
    return settings.PUBLIC_BASE_URL + reverse(name)


def _say(response, text: str, prompts: Prompts, recording: str = "") -> None:
    """A prompt: its recording when the deployment has one for the language, else spoken."""
    if recording and prompts.recordings.get(recording):
        response.play(prompts.recordings[recording])
    elif prompts.language:
        response.say(str(text), language=prompts.language)
    else:
        response.say(str(text))


def _connect(response: VoiceResponse, number: PhoneNumber, route: VoiceRoute) -> None:
    """The caller to the helpline's queue, or to the on-duty operators' numbers."""
    dial_numbers = [line.strip() for line in route.dial_numbers.splitlines() if line.strip()]
    if route.mode == VoiceMode.DIAL and dial_numbers:
        dial = response.dial(action=_url("twilio-voice-status"), method="POST", timeout=30)
        for operator_number in dial_numbers:
            dial.number(operator_number)
    else:
        response.enqueue(
            route.queue_name or number.helpline.code, action=_url("twilio-voice-status"), method="POST"
        )


def answer_twiml(number: PhoneNumber) -> str:
    """Greeting, the emergency digit offer, then the queue (or the operators' numbers)."""
    route = voice_route_of(number)
    response = VoiceResponse()
    with translation.override(texts.contact_language(number)):
        prompts = prompts_for(texts.number_language(number), number.helpline.country)
        # The helpline's own greeting text for the route wins over ours, spoken or recorded.
        _say(response, route.greeting or prompts.greeting, prompts, "" if route.greeting else "greeting")
        gather = response.gather(num_digits=1, action=_url("twilio-voice-gather"), method="POST", timeout=5)
        _say(gather, prompts.emergency.format(digit=route.emergency_digit), prompts, "emergency")
    _connect(response, number, route)
    return str(response)


def connect_twiml(number: PhoneNumber) -> str:
    """After the digit (or none): a word to the caller, then the queue (or the operators)."""
    route = voice_route_of(number)
    response = VoiceResponse()
    with translation.override(texts.contact_language(number)):
        prompts = prompts_for(texts.number_language(number), number.helpline.country)
        _say(response, prompts.connecting, prompts, "connecting")
    _connect(response, number, route)
    return str(response)


def outage_twiml() -> str:
    """For a call to a number this process has never read while the database is away: the default
    greeting, then the VOICE_OUTAGE_QUEUE queue (its record is spooled; docs/spool.md)."""
    response = VoiceResponse()
    with translation.override(texts.contact_language(None)):
        prompts = prompts_for(settings.LANGUAGE_CODE)
        _say(response, prompts.greeting, prompts, "greeting")
    response.enqueue(settings.VOICE_OUTAGE_QUEUE, action=_url("twilio-voice-status"), method="POST")
    return str(response)


def _first(params: Mapping[str, list[str]], name: str) -> str:
    return (params.get(name) or [""])[0].strip()


@dataclass(frozen=True)
class VoiceReceipt:
    event: InboundEvent
    created: bool


def _store(
    *,
    number: PhoneNumber,
    kind: str,
    external_id: str,
    params: Mapping[str, list[str]],
    action: AuditAction,
    spooled_at: datetime | None = None,
) -> VoiceReceipt:
    """Stores one voice webhook once (a retry finds the first event) and dispatches the call's
    processing after commit; one the spool kept keeps its arrival time (`spooled_at`)."""
    existing = InboundEvent.objects.filter(provider="twilio", kind=kind, external_id=external_id).first()
    if existing is not None:
        return VoiceReceipt(existing, created=False)
    address = _first(params, "From")
    now = timezone.now()
    call_sid = _first(params, "CallSid")
    try:
        with transaction.atomic():
            event = InboundEvent.objects.create(
                helpline_id=number.helpline_id,
                channel=NumberChannel.VOICE,
                kind=kind,
                provider="twilio",
                external_id=external_id,
                sender=address,
                sender_hash=sender_hash(address) if address else "",
                params=params_json(params),
                language=texts.number_language(number),
                received_at=spooled_at or now,
                spooled=spooled_at is not None,
                dispatched_at=now,
            )
            audit_record(
                actor=None,
                action=action,
                obj=event,
                helpline=number.helpline_id,
                extra={"channel": "voice", "external_id": external_id},
            )
            transaction.on_commit(lambda: dispatch_call(call_sid), robust=True)
    except IntegrityError:
        event = InboundEvent.objects.get(provider="twilio", kind=kind, external_id=external_id)
        return VoiceReceipt(event, created=False)
    return VoiceReceipt(event, created=True)


def _sid(value: str) -> str:
    return value[:50]  # room for ":queue:<result>" in external_id (80)


def inbound_call_receive(
    *, number: PhoneNumber, params: Mapping[str, list[str]], spooled_at: datetime | None = None
) -> VoiceReceipt:
    """An inbound call (signature checked): stored once per CallSid + CallStatus."""
    status = _first(params, "CallStatus") or "ringing"
    external_id = f"{_sid(_first(params, 'CallSid'))}:{status[:16]}"
    return _store(
        number=number,
        kind=VoiceEventKind.CALL,
        external_id=external_id,
        params=params,
        action=AuditAction.INBOUND_CALL,
        spooled_at=spooled_at,
    )


def call_gather_receive(
    *, number: PhoneNumber, params: Mapping[str, list[str]], spooled_at: datetime | None = None
) -> VoiceReceipt:
    """The digit the caller pressed (one per call: a retry finds the first)."""
    external_id = f"{_sid(_first(params, 'CallSid'))}:gather"
    return _store(
        number=number,
        kind=VoiceEventKind.STATUS,
        external_id=external_id,
        params=params,
        action=AuditAction.INBOUND_CALL_GATHER,
        spooled_at=spooled_at,
    )


def call_status_receive(
    *, number: PhoneNumber, params: Mapping[str, list[str]], spooled_at: datetime | None = None
) -> VoiceReceipt:
    """A status callback, or the result of <Enqueue>/<Dial> (QueueResult, DialCallStatus)."""
    sid = _sid(_first(params, "CallSid"))
    if _first(params, "QueueResult"):
        external_id = f"{sid}:queue:{_first(params, 'QueueResult')[:16]}"
    elif _first(params, "DialCallStatus"):
        external_id = f"{sid}:dial:{_first(params, 'DialCallStatus')[:16]}"
    else:
        external_id = f"{sid}:{(_first(params, 'CallStatus') or 'unknown')[:16]}"
    return _store(
        number=number,
        kind=VoiceEventKind.STATUS,
        external_id=external_id,
        params=params,
        action=AuditAction.INBOUND_CALL_STATUS,
        spooled_at=spooled_at,
    )


def dispatch_call(call_sid: str) -> None:
    from .tasks import process_voice_call

    broker.publish(process_voice_call, (call_sid,), what="a voice call's processing")


# --- processing ------------------------------------------------------------------------------------


def _call_events(call_sid: str):
    return InboundEvent.objects.filter(
        provider="twilio",
        kind__in=(VoiceEventKind.CALL, VoiceEventKind.STATUS),
        external_id__startswith=f"{_sid(call_sid)}:",
    )


def voice_call_process(*, call_sid: str) -> str:
    """Files everything stored about one call, exactly once per event: the first call event becomes
    a voice contact (of the caller's open case in the helpline, else of a new intake case); then
    each digit, status and queue result is applied to it (emergency → the case's risk critical;
    final status → the contact's end; abandoned → a callback). Returns "processed", "waiting"
    (only callbacks arrived, the call event not yet) or "nothing"."""
    sid = _sid(call_sid)
    _call_events(sid).filter(processed_at__isnull=True).update(attempts=F("attempts") + 1)
    with transaction.atomic():
        events = list(
            _call_events(sid).select_for_update(of=("self",)).select_related("helpline").order_by("id")
        )
        calls = [e for e in events if e.kind == VoiceEventKind.CALL]
        if not calls:
            return "waiting" if events else "nothing"
        first = calls[0]
        contact = next((e.contact for e in events if e.contact_id), None)
        if contact is None:
            contact = _call_contact(first)
        pending = [e for e in events if e.processed_at is None]
        if not pending:
            return "nothing"
        now = timezone.now()
        for event in pending:
            if event.kind == VoiceEventKind.STATUS:
                _apply(event, contact)
            event.processed_at = now
            event.contact = contact
            event.save(update_fields=["processed_at", "contact"])
    return "processed"


def _call_contact(event: InboundEvent) -> Contact:
    helpline = event.helpline
    if event.sender_hash:
        lock_sender(helpline.pk, event.sender_hash)
        # Repeat contacters: a *blocked* caller's call is kept as a contact in no case; an
        # *abusive* caller's is filed as usual and its contact marked (channels_sms.contacters).
        flag = contacters.active_flag(
            helpline_id=helpline.pk, identifier_hash=event.sender_hash, at=event.received_at
        )
        if flag is not None and flag.flag == ContacterFlagKind.BLOCKED:
            return contacters.blocked_contact_create(
                helpline_id=helpline.pk, channel=NumberChannel.VOICE, started_at=event.received_at, flag=flag
            )
        if flag is not None:
            contact = _call_contact_unflagged(event)
            contacters.contact_mark(contact=contact, flag=flag)
            return contact
    return _call_contact_unflagged(event)


def _call_contact_unflagged(event: InboundEvent) -> Contact:
    helpline = event.helpline
    if event.sender_hash:
        case = (
            Case.objects.filter(helpline=helpline, reporter_phone_hash=event.sender_hash)
            .exclude(state=CaseState.CLOSED)
            .order_by("-created_at", "-id")
            .first()
        )
        if case is not None:
            return contact_create_inbound(
                case=case, channel=NumberChannel.VOICE, started_at=event.received_at, language=event.language
            )
    _case, contact = case_create_from_inbound(
        helpline=helpline,
        channel=NumberChannel.VOICE,
        started_at=event.received_at,
        reporter_phone=sender_phone(event.sender),
        language=event.language,
    )
    return contact


def _apply(event: InboundEvent, contact: Contact) -> None:
    params = json.loads(event.params)

    def value(name: str) -> str:
        raw = params.get(name, "")
        return (raw[0] if isinstance(raw, list) and raw else raw or "").strip()

    if event.external_id.endswith(":gather"):
        number = PhoneNumber.objects.filter(
            helpline_id=event.helpline_id, number=value("To"), channel=NumberChannel.VOICE
        ).first()
        digit = voice_route_of(number).emergency_digit if number else "9"
        if value("Digits") == digit and contact.case_id:
            case_flag_emergency(case_id=contact.case_id, event_id=event.pk, channel=NumberChannel.VOICE)
        return
    status = value("CallStatus")
    queue_result = value("QueueResult")
    dial_status = value("DialCallStatus")
    if status in FINAL_STATUSES:
        _contact_end(contact, event, value("CallDuration"))
    reason = ""
    if queue_result in ABANDONED_QUEUE_RESULTS:
        reason = f"queue-{queue_result}"
    elif dial_status in ABANDONED_STATUSES:
        reason = f"dial-{dial_status}"
    elif status in ABANDONED_STATUSES:
        reason = status
    if reason:
        callback_request(contact=contact, reason=reason, at=event.received_at)


def _contact_end(contact: Contact, event: InboundEvent, duration: str) -> None:
    if contact.ended_at is not None:
        return
    try:
        ended_at = contact.started_at + timedelta(seconds=int(duration))
    except ValueError:
        ended_at = event.received_at
    contact.ended_at = max(ended_at, contact.started_at)
    contact.save(update_fields=["ended_at"])
    audit_record(
        actor=None,
        action=AuditAction.CONTACT_UPDATE,
        obj=contact,
        case_id=contact.case_id,
        helpline=contact.helpline_id,
        changes={"ended_at": {"before": None, "after": contact.ended_at.isoformat()}},
        extra={"event_id": event.pk},
    )


def callback_request(*, contact: Contact, reason: str, at: datetime) -> Callback:
    """An abandoned call enters the callback queue (once per contact)."""
    existing = Callback.objects.filter(contact=contact).first()
    if existing is not None:
        return existing
    with transaction.atomic():
        callback = Callback.objects.create(
            helpline_id=contact.helpline_id,
            contact=contact,
            case_id=contact.case_id,
            reason=reason,
            requested_at=at,
        )
        audit_record(
            actor=None,
            action=AuditAction.CALLBACK_REQUEST,
            obj=callback,
            case_id=contact.case_id,
            helpline=contact.helpline_id,
            extra={"reason": reason, "contact_id": contact.pk},
        )
    return callback


def callback_complete(*, actor: User, callback: Callback, outcome: str = "") -> Callback:
    """An operator called the child back (or tried): done, with an outcome note; twice: 409."""
    if not policy.can(actor, PolicyAction.CALLBACK_COMPLETE, callback):
        raise PermissionDenied(_("Only helpline staff complete callbacks."))
    with transaction.atomic():
        locked = Callback.objects.select_for_update().get(pk=callback.pk)
        if locked.done_at is not None:
            raise Conflict(_("This callback was already done."), code="already_done")
        locked.done_at = timezone.now()
        locked.done_by = actor
        locked.outcome = outcome
        locked.save(update_fields=["done_at", "done_by", "outcome"])
        audit_record(
            actor=actor,
            action=AuditAction.CALLBACK_COMPLETE,
            obj=locked,
            case_id=locked.case_id,
            changes={"outcome": {"before": REDACTED, "after": REDACTED}} if outcome else {},
        )
    return locked


def unprocessed_calls_redispatch(*, now: datetime | None = None, limit: int = 500) -> list[str]:
    """Dispatches again the calls with events still unprocessed INBOUND_SWEEP_AFTER_SECONDS after
    they were dispatched."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.INBOUND_SWEEP_AFTER_SECONDS)
    with transaction.atomic():
        rows = list(
            InboundEvent.objects.select_for_update(skip_locked=True)
            .filter(
                kind__in=(VoiceEventKind.CALL, VoiceEventKind.STATUS),
                processed_at__isnull=True,
                dispatched_at__lt=cutoff,
            )
            .order_by("received_at")
            .values_list("pk", "external_id")[:limit]
        )
        InboundEvent.objects.filter(pk__in=[pk for pk, _ in rows]).update(dispatched_at=now)
    sids = sorted({external_id.split(":", 1)[0] for _, external_id in rows})
    for sid in sids:
        dispatch_call(sid)
    return sids
