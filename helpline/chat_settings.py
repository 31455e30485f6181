"""A helpline's chat settings, validated where they are stored (helpline.models) and read where a
chat opens (channels_sms.chat): its weekly opening hours in its own time zone, and the texts it
shows children (per language), with the few placeholders those texts may use.

Opening hours are a list of `{"weekday": "monday", "opens": "08:00", "closes": "20:00"}`, times
local to the helpline's time zone; `closes` earlier than `opens` runs past midnight into the next
day (`{"weekday": "friday", "opens": "22:00", "closes": "02:00"}` is Friday night until Saturday
02:00), `closes` "24:00" is the end of the day. No hours at all (`None`) means always open, the
default: many child helplines answer 24/7.

Placeholders are filled by plain replacement of a fixed set of names (`{helpline}`), never by a
template engine or `str.format` on text someone typed: a text cannot reach anything else."""

import re
import zoneinfo
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MAX_PERIODS = 50
MAX_TEXT = 1000
_TIME = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{1,8})*$")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
# The placeholders a helpline's texts and canned replies may use: name -> what fills it.
PLACEHOLDERS = {"helpline": "the helpline's name"}


def _minutes(value: Any, *, end: bool) -> int | None:
    """ "HH:MM" as minutes since midnight ("24:00" only as an end); None if malformed."""
    if not isinstance(value, str):
        return None
    if end and value == "24:00":
        return 24 * 60
    match = _TIME.match(value)
    return int(match[1]) * 60 + int(match[2]) if match else None


def validate_opening_hours(value: Any) -> None:
    """A list of weekly periods (see the module); raises ValidationError naming the bad entry."""
    if value is None:
        return
    if not isinstance(value, list):
        raise ValidationError(_("A list of opening periods, or null for always open."), code="invalid")
    if not value:
        raise ValidationError(
            _("An empty list would mean never open: give the periods, or null for always open."),
            code="empty",
        )
    if len(value) > MAX_PERIODS:
        raise ValidationError(_("At most %(max)s periods.") % {"max": MAX_PERIODS}, code="max_length")
    for index, period in enumerate(value):
        where = {"index": index}
        if not isinstance(period, dict) or set(period) != {"weekday", "opens", "closes"}:
            raise ValidationError(
                # Translators: "weekday", "opens" and "closes" are the names of the fields: keep them.
                _('Period %(index)s: an object with exactly "weekday", "opens" and "closes".') % where,
                code="invalid",
            )
        if period["weekday"] not in WEEKDAYS:
            raise ValidationError(
                # Translators: %(weekdays)s lists the values the field takes (monday, ...), as they are.
                _("Period %(index)s: weekday is one of %(weekdays)s.")
                % {**where, "weekdays": ", ".join(WEEKDAYS)},
                code="invalid",
            )
        opens = _minutes(period["opens"], end=False)
        closes = _minutes(period["closes"], end=True)
        if opens is None or closes is None:
            raise ValidationError(
                # Translators: "HH:MM" and "24:00" are the format of the values: keep them as they are.
                _('Period %(index)s: times are "HH:MM", 24-hour ("24:00" only as a closing time).') % where,
                code="invalid",
            )
        if opens == closes:
            raise ValidationError(
                _("Period %(index)s: opens and closes at the same time.") % where, code="invalid"
            )


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(
            _("%(value)r is not a known IANA time zone.") % {"value": value}, code="invalid"
        )


def is_open(opening_hours: list[dict] | None, time_zone: str, at: datetime) -> bool:
    """Whether a helpline with these hours, in this time zone, is open at `at` (aware)."""
    if opening_hours is None:
        return True
    local = at.astimezone(zoneinfo.ZoneInfo(time_zone))
    today = WEEKDAYS[local.weekday()]
    yesterday = WEEKDAYS[(local.weekday() - 1) % 7]
    now = local.hour * 60 + local.minute
    for period in opening_hours:
        opens = _minutes(period["opens"], end=False)
        closes = _minutes(period["closes"], end=True)
        if opens is None or closes is None:
            continue
        if opens < closes:
            if period["weekday"] == today and opens <= now < closes:
                return True
        else:  # past midnight: the evening of its weekday and the early hours of the next
            if period["weekday"] == today and now >= opens:
                return True
            if period["weekday"] == yesterday and now < closes:
                return True
    return False


def validate_texts(value: Any) -> None:
    """Texts per language: {"en": "...", "mn": "..."}; only known placeholders."""
    if not isinstance(value, dict):
        raise ValidationError(_('An object of texts per language, e.g. {"en": "Hello"}.'), code="invalid")
    for language, text in value.items():
        if not _LANGUAGE.match(language):
            raise ValidationError(
                _("%(language)r is not a language code (e.g. en, mn).") % {"language": language},
                code="invalid",
            )
        if not isinstance(text, str) or not text.strip():
            # Translators: %(language)s is a language code (en, mn).
            raise ValidationError(_("The %(language)s text is empty.") % {"language": language}, code="blank")
        if len(text) > MAX_TEXT:
            raise ValidationError(
                # Translators: %(language)s is a language code (en, mn).
                _("The %(language)s text is longer than %(max)s characters.")
                % {"language": language, "max": MAX_TEXT},
                code="max_length",
            )
        validate_placeholders(text)


def validate_placeholders(text: str) -> None:
    unknown = sorted({name for name in _PLACEHOLDER.findall(text) if name not in PLACEHOLDERS})
    if unknown:
        known = ", ".join(f"{{{name}}}" for name in PLACEHOLDERS)
        raise ValidationError(
            # Translators: {%(name)s} and %(known)s are placeholders as written in a text ({helpline}).
            _("Unknown placeholder {%(name)s}: the placeholders are %(known)s.")
            % {"name": unknown[0], "known": known},
            code="invalid_placeholder",
        )


def fill_placeholders(text: str, *, helpline_name: str) -> str:
    """The text with its placeholders filled (plain replacement, nothing evaluated)."""
    return text.replace("{helpline}", helpline_name)


def text_for(texts: dict[str, str], *, language: str, default_language: str) -> str:
    """The text in `language`, else in the helpline's default language; "" if neither is set."""
    return texts.get(language) or texts.get(default_language) or ""
