"""Reads of the inbound channels."""

from django.db.models import QuerySet

from cases.selectors import case_get
from helpline.models import User

from .models import Message, PhoneNumber


def phone_number_for(*, address: str, channels: tuple[str, ...]) -> PhoneNumber | None:
    """Our active number a webhook names (its `To`, or `From` for status callbacks)."""
    return (
        PhoneNumber.objects.select_related("helpline")
        .filter(number=address.strip(), channel__in=channels, is_active=True, helpline__is_active=True)
        .first()
    )


def case_message_list(*, user: User, case_id: int) -> QuerySet[Message]:
    """The conversation of a case the caller may see, both directions, in the order it happened
    (the case read is recorded as a message read; outside the caller's scope: 404)."""
    case = case_get(user=user, case_id=case_id, action="message.list")
    return Message.objects.filter(case=case).order_by("at", "id")
