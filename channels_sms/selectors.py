"""Reads of the inbound channels."""

import threading
import time

from django.conf import settings
from django.db.models import QuerySet

from cases.selectors import case_get
from helpline.models import User

from .models import Message, PhoneNumber

# Our numbers, as every webhook looks them up: {(address, channels): (found at, number)}.
_numbers: dict[tuple[str, tuple[str, ...]], tuple[float, PhoneNumber]] = {}
_numbers_lock = threading.Lock()


def phone_number_for(*, address: str, channels: tuple[str, ...]) -> PhoneNumber | None:
    """Our active number a webhook names (its `To`, or `From` for status callbacks), with its
    helpline. Each process keeps a number it found for PHONE_NUMBER_CACHE_SECONDS: every webhook
    asks, numbers change a few times a year, and the look-up was a quarter of a webhook's time in
    the bench. A change saved (to a number, a helpline or a voice route) clears this process's
    copies at once (phone_numbers_forget); other processes see it within the cache time (a number
    moved to another helpline still routes to the old one that long there). A number not found is
    never kept, so a new number answers at once everywhere."""
    key = (address.strip(), channels)
    kept = _numbers.get(key)
    if kept is not None and time.monotonic() - kept[0] < settings.PHONE_NUMBER_CACHE_SECONDS:
        return kept[1]
    number = (
        PhoneNumber.objects.select_related("helpline")
        .filter(number=key[0], channel__in=channels, is_active=True, helpline__is_active=True)
        .first()
    )
    with _numbers_lock:
        if number is None:
            _numbers.pop(key, None)
        else:
            _numbers[key] = (time.monotonic(), number)
    return number


def phone_numbers_forget(**_signal_arguments: object) -> None:
    """Drops this process's kept numbers (on any save or delete of a number or a helpline)."""
    with _numbers_lock:
        _numbers.clear()


def case_message_list(*, user: User, case_id: int) -> QuerySet[Message]:
    """The conversation of a case the caller may see, both directions, in the order it happened
    (the case read is recorded as a message read; outside the caller's scope: 404)."""
    case = case_get(user=user, case_id=case_id, action="message.list")
    return Message.objects.filter(case=case).order_by("at", "id")
