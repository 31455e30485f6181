"""Presentation helpers of the console's templates: labels in the reader's language (with their
helpline's own wording), and times as people read them."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from helpline.labels import labeller, vocabulary_choices

register = template.Library()


def _labeller(context):
    """The reader's labeller, made once per request (a page labels hundreds of codes)."""
    request = context.get("request")
    made = getattr(request, "_console_labeller", None)
    if made is None:
        user = getattr(request, "user", None)
        helpline = getattr(user, "helpline", None) if getattr(user, "helpline_id", None) else None
        made = labeller(helpline)
        if request is not None:
            request._console_labeller = made
    return made


@register.simple_tag(takes_context=True)
def label(context, vocabulary: str, code: str) -> str:
    """The label of `code` in `vocabulary` (helpline.labels), or the code itself if unknown."""
    choices = vocabulary_choices(vocabulary)
    default = choices.get(code, code) if choices is not None else code
    return _labeller(context).label(vocabulary, code, default)


def _minutes(delta_seconds: float) -> str:
    minutes = int(abs(delta_seconds) // 60)
    if minutes < 60:
        return ngettext("%(n)d min", "%(n)d min", minutes) % {"n": minutes}
    hours = minutes // 60
    if hours < 48:
        return ngettext("%(n)d h", "%(n)d h", hours) % {"n": hours}
    days = hours // 24
    return ngettext("%(n)d day", "%(n)d days", days) % {"n": days}


@register.filter
def due(value: datetime | None) -> str:
    """A due time as a countdown ("in 12 min") or how late it is ("5 min late")."""
    if value is None:
        return ""
    seconds = (value - timezone.now()).total_seconds()
    if seconds >= 0:
        return _("in %(time)s") % {"time": _minutes(seconds)}
    return _("%(time)s late") % {"time": _minutes(seconds)}


@register.filter
def waited(value: datetime | None) -> str:
    """How long ago ("12 min")."""
    if value is None:
        return ""
    return _minutes((timezone.now() - value).total_seconds())


@register.filter
def is_late(value: datetime | None) -> bool:
    return value is not None and value < timezone.now()


@register.simple_tag(takes_context=True)
def category_label(context, category) -> str:
    """A category's label in the reader's language, or as the helpline wrote it."""
    from helpline.labels import CATEGORY

    return _labeller(context).label(CATEGORY, category.code, category.label)


@register.filter
def action_label(action: str) -> str:
    """An audit action in the reader's words (console.history), or its code."""
    from ..history import action_label as label

    return label(action)
