"""Which channels a person gets each kind of notification on: in-app always; e-mail and SMS as
they choose, within what their helpline requires per kind (`ChannelRequirement`; a kind the helpline
has not set keeps the installation's default: emergency referrals and critical cases need e-mail or
SMS). The helpline's rule wins over a stored choice it has since outgrown: delivery adds the
required channels, and the preferences answer shows the channels that will be used."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from helpline.crypto import normalise_phone

from .models import Channel, ChannelRequirement, NotificationKind, Preference, Requirement

# Kinds a person must get by e-mail or SMS as well unless their helpline decides otherwise (they
# cannot wait for someone to look).
URGENT_KINDS = frozenset({NotificationKind.EMERGENCY_REFERRAL, NotificationKind.CRITICAL_CASE})
# The kinds staff receive (AGENCY_REFERRAL goes to agencies' addresses, not to people).
STAFF_KINDS = tuple(k for k in NotificationKind if k != NotificationKind.AGENCY_REFERRAL)
OUT_OF_BAND = (Channel.EMAIL, Channel.SMS)
DEFAULT_REQUIREMENTS: dict[str, str] = {
    k: (Requirement.EMAIL_OR_SMS if k in URGENT_KINDS else Requirement.NONE).value for k in STAFF_KINDS
}
# The channels each rule makes compulsory (EMAIL_OR_SMS: none in particular, but one of them).
_COMPULSORY: dict[str, frozenset[str]] = {
    Requirement.NONE: frozenset(),
    Requirement.EMAIL_OR_SMS: frozenset(),
    Requirement.EMAIL: frozenset({Channel.EMAIL.value}),
    Requirement.SMS: frozenset({Channel.SMS.value}),
    Requirement.EMAIL_AND_SMS: frozenset({Channel.EMAIL.value, Channel.SMS.value}),
}
# The refusal of a choice below the helpline's rule, per rule (%(kind)s: the kind's code).
_BELOW_RULE = {
    Requirement.EMAIL_OR_SMS: gettext_lazy("Your helpline requires e-mail, SMS or both for %(kind)s."),
    Requirement.EMAIL: gettext_lazy("Your helpline requires e-mail for %(kind)s."),
    Requirement.SMS: gettext_lazy("Your helpline requires SMS for %(kind)s."),
    Requirement.EMAIL_AND_SMS: gettext_lazy("Your helpline requires both e-mail and SMS for %(kind)s."),
}


def requirements_of(helpline_id: int | None) -> dict[str, str]:
    """The helpline's rule for every staff kind (its own where set, else the default)."""
    rules = dict(DEFAULT_REQUIREMENTS)
    if helpline_id is not None:
        rules.update(
            ChannelRequirement.objects.filter(helpline_id=helpline_id).values_list("kind", "requirement")
        )
    return rules


def requirements_answer(helpline_id: int) -> dict[str, Any]:
    """The helpline's rules as the API answers them: every kind, and which ones it has set."""
    rules = requirements_of(helpline_id)
    customised = ChannelRequirement.objects.filter(helpline_id=helpline_id).values_list("kind", flat=True)
    return {"requirements": rules, "customised": sorted(customised)}


def meets(requirement: str, chosen: list[str]) -> bool:
    if requirement == Requirement.EMAIL_OR_SMS:
        return bool(set(chosen) & {c.value for c in OUT_OF_BAND})
    return _COMPULSORY[requirement] <= set(chosen)


def default_channels(kind: str, requirement: str | None = None) -> list[str]:
    """Without a choice: e-mail and SMS where the helpline requires one of them, exactly the
    required ones where it names them, in-app only where it requires nothing."""
    requirement = requirement or DEFAULT_REQUIREMENTS.get(kind, Requirement.NONE)
    if requirement == Requirement.EMAIL_OR_SMS:
        return [Channel.EMAIL.value, Channel.SMS.value]
    return sorted(_COMPULSORY[requirement])


def effective_channels(chosen: list[str], requirement: str, reach: dict[str, str] | None = None) -> list[str]:
    """The channels used: the person's choice, plus what the helpline's rule requires. `reach`
    (the person's addresses): an "e-mail or SMS" rule whose chosen channel has no address falls
    back on every channel that has one."""
    used = set(chosen) | _COMPULSORY[requirement]
    if requirement == Requirement.EMAIL_OR_SMS:
        usable = used if reach is None else used & set(reach)
        if not usable:
            used |= {c.value for c in OUT_OF_BAND}
    return sorted(used)


def preference_of(user: Any) -> Preference:
    """The person's stored preferences, or an unsaved row holding the defaults."""
    return Preference.objects.filter(user=user).first() or Preference(user=user)


def channels_for(preference: Preference, kind: str, requirement: str | None = None) -> list[str]:
    """What the person chose for `kind` (or its default under the rule)."""
    chosen = (preference.channels or {}).get(kind)
    return list(chosen) if isinstance(chosen, list) else default_channels(kind, requirement)


def addresses(user: Any, preference: Preference) -> dict[str, str]:
    """Where each out-of-band channel reaches the person (a channel without an address is absent)."""
    found = {}
    if user.email:
        found[Channel.EMAIL.value] = user.email
    if preference.sms_number:
        found[Channel.SMS.value] = preference.sms_number
    return found


def preferences_validate(
    *,
    user: Any,
    channels: dict[str, list[str]],
    sms_number: str,
    region: str,
    requirements: dict[str, str] | None = None,
) -> tuple[dict[str, list[str]], str]:
    """Checks a person's choice; returns it normalised (every staff kind listed, numbers E.164).
    Refused: an unknown kind or channel, SMS without a number, e-mail without an address, a
    choice below the helpline's rule for its kind (`requirements`, default: the installation's)."""
    requirements = requirements or DEFAULT_REQUIREMENTS
    errors: dict[str, str] = {}
    number = ""
    if sms_number.strip():
        try:
            number = normalise_phone(sms_number.strip(), region=region)
        except ValueError:
            errors["sms_number"] = _("Not a phone number: give it with its +country code.")
    normalised: dict[str, list[str]] = {}
    for kind, chosen in channels.items():
        if kind not in STAFF_KINDS:
            # Named on `channels` itself: an error's attr is one the schema lists, never input.
            errors["channels"] = _("Unknown kind %(kind)r. Known: %(known)s.") % {
                "kind": kind[:40],
                "known": ", ".join(STAFF_KINDS),
            }
            continue
        unknown = [c for c in chosen if c not in OUT_OF_BAND]
        if unknown:
            errors[f"channels.{kind}"] = _("Channels are email and sms (in-app is always on).")
            continue
        normalised[kind] = sorted(set(chosen))
    for kind in STAFF_KINDS:
        rule = requirements.get(kind, Requirement.NONE)
        chosen = normalised.setdefault(kind, default_channels(kind, rule))
        if not meets(rule, chosen):
            errors[f"channels.{kind}"] = str(_BELOW_RULE[rule]) % {"kind": kind}
        if Channel.SMS in chosen and not number:
            errors.setdefault("sms_number", _("SMS notifications need your mobile number."))
        if Channel.EMAIL in chosen and not user.email:
            errors.setdefault(
                f"channels.{kind}", _("You have no e-mail address; ask an administrator to set it.")
            )
    if errors:
        raise ValidationError(errors)
    return normalised, number
