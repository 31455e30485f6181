"""Which channels a person gets each kind of notification on: in-app always; e-mail and SMS as
they choose, within what the installation requires (urgent kinds need at least one channel that
reaches someone away from the console)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError

from helpline.crypto import normalise_phone

from .models import Channel, NotificationKind, Preference

# Kinds a person must get by e-mail or SMS as well (they cannot wait for someone to look).
URGENT_KINDS = frozenset({NotificationKind.EMERGENCY_REFERRAL, NotificationKind.CRITICAL_CASE})
# The kinds staff receive (AGENCY_REFERRAL goes to agencies' addresses, not to people).
STAFF_KINDS = tuple(k for k in NotificationKind if k != NotificationKind.AGENCY_REFERRAL)
OUT_OF_BAND = (Channel.EMAIL, Channel.SMS)


def default_channels(kind: str) -> list[str]:
    """Without a choice: urgent kinds by e-mail and SMS, the others in-app only."""
    return [Channel.EMAIL.value, Channel.SMS.value] if kind in URGENT_KINDS else []


def preference_of(user: Any) -> Preference:
    """The person's stored preferences, or an unsaved row holding the defaults."""
    return Preference.objects.filter(user=user).first() or Preference(user=user)


def channels_for(preference: Preference, kind: str) -> list[str]:
    chosen = (preference.channels or {}).get(kind)
    return list(chosen) if isinstance(chosen, list) else default_channels(kind)


def addresses(user: Any, preference: Preference) -> dict[str, str]:
    """Where each out-of-band channel reaches the person (a channel without an address is absent)."""
    found = {}
    if user.email:
        found[Channel.EMAIL.value] = user.email
    if preference.sms_number:
        found[Channel.SMS.value] = preference.sms_number
    return found


def preferences_validate(
    *, user: Any, channels: dict[str, list[str]], sms_number: str, region: str
) -> tuple[dict[str, list[str]], str]:
    """Checks a person's choice; returns it normalised (every staff kind listed, numbers E.164).
    Refused: an unknown kind or channel, SMS without a number, e-mail without an address, an
    urgent kind without any out-of-band channel."""
    errors: dict[str, str] = {}
    number = ""
    if sms_number.strip():
        try:
            number = normalise_phone(sms_number.strip(), region=region)
        except ValueError:
            errors["sms_number"] = "Not a phone number: give it with its +country code."
    normalised: dict[str, list[str]] = {}
    for kind, chosen in channels.items():
        if kind not in STAFF_KINDS:
            errors[f"channels.{kind}"] = f"Unknown kind. Known: {', '.join(STAFF_KINDS)}."
            continue
        unknown = [c for c in chosen if c not in OUT_OF_BAND]
        if unknown:
            errors[f"channels.{kind}"] = "Channels are email and sms (in-app is always on)."
            continue
        normalised[kind] = sorted(set(chosen))
    for kind in STAFF_KINDS:
        chosen = normalised.setdefault(kind, default_channels(kind))
        if kind in URGENT_KINDS and not chosen:
            errors[f"channels.{kind}"] = "This kind is urgent: choose e-mail, SMS or both."
        if Channel.SMS in chosen and not number:
            errors.setdefault("sms_number", "SMS notifications need your mobile number.")
        if Channel.EMAIL in chosen and not user.email:
            errors.setdefault(
                f"channels.{kind}", "You have no e-mail address; ask an administrator to set it."
            )
    if errors:
        raise ValidationError(errors)
    return normalised, number
