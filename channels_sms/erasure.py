"""What the conversations keep about a case, erased with it when the case is anonymised
(registered with cases.services.retention in ChannelsSmsConfig.ready)."""

from django.db.models import Q

from cases.models import Case, Contact

from .models import Callback, InboundEvent, Message


def conversations_erase(case: Case) -> int:
    """What the child wrote and the raw webhooks that carried it (their number, the body, every
    parameter), the replies and where they went, callback outcomes: erased with the case.
    Returns the messages erased."""
    contacts = Contact.objects.filter(case=case)
    messages = Message.objects.filter(Q(case=case) | Q(contact__in=contacts))
    # Status callbacks of our replies name the child's number as `To`; they are keyed by the
    # reply's MessageSid ("SM...:delivered").
    reply_sids = [sid for sid in messages.exclude(external_id="").values_list("external_id", flat=True)]
    status_events = Q()
    for sid in reply_sids:
        status_events |= Q(external_id__startswith=f"{sid}:")
    events = InboundEvent.objects.filter(
        Q(contact__in=contacts) | (status_events if reply_sids else Q(pk__in=[]))
    )
    events.update(sender="", sender_hash="", body="", media="", params="{}")
    erased = messages.update(body="", media="", to_address="", sender_hash="")
    Callback.objects.filter(contact__in=contacts).update(outcome="")
    return erased
