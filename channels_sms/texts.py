"""Every text of ours the web chat shows a child, in one place, marked for translation (gettext): the
chat's own follow the language of the request. A helpline's own texts (its greeting and
out-of-hours message, per language, helpline.chat_settings) replace the first two; `{helpline}` in
any of them is the helpline's name. And the default acknowledgement of a first SMS or WhatsApp
message, written in the language of the number's contacts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext_lazy, gettext_noop

from helpline.i18n import supported

if TYPE_CHECKING:
    from .models import PhoneNumber

# The first message from the helpline when a chat opens.
DEFAULT_GREETING = gettext_lazy(
    "Hello, you are talking to {helpline}. You can tell us anything: what you write stays between "
    "you and the counsellors. Write your message and a counsellor will answer as soon as they can."
)
# Shown after the greeting when a chat opens outside the helpline's opening hours.
DEFAULT_OUT_OF_HOURS = gettext_lazy(
    "Our counsellors are not here right now. You can still write to us: your messages are kept "
    "and a counsellor will read them when we open again. If you are in danger now, call your "
    "local emergency number."
)
# Why a child can no longer write in a chat (the 409's detail).
CHAT_ENDED = gettext_lazy("This chat has ended.")
CHAT_EXPIRED = gettext_lazy("This chat has expired.")

# The answer to a sender's first SMS or WhatsApp message of a conversation when the number sets
# none: the INBOUND_ACKNOWLEDGEMENT setting (config/settings/channels.py), whose default is this
# same English text, is translated when it is this text; a deployment's own text is sent as written.
DEFAULT_ACKNOWLEDGEMENT = gettext_noop(
    "Thank you for contacting the child helpline. A counsellor will reply to you soon."
)


def number_language(number: PhoneNumber | None) -> str:
    """The language of the number's contacts as configured: the number's own, else its helpline's
    default ("" without a number)."""
    if number is None:
        return ""
    helpline = number.helpline
    # A language the helpline stopped speaking after the number was set: its default again.
    spoken = number.language and number.language in helpline.children_languages
    return number.language if spoken else helpline.default_language


def contact_language(number: PhoneNumber | None) -> str:
    """The language our texts to whoever writes to or calls the number are translated into (the
    acknowledgement, the voice prompts): the number's language when we speak it, else English."""
    return supported(number_language(number)) or settings.LANGUAGE_CODE


def acknowledgement(number: PhoneNumber | None) -> str:
    """The answer to a sender's first message of a conversation: the number's own text as written,
    else the deployment's default in the language of the number's contacts."""
    if number is not None and number.acknowledgement:
        return number.acknowledgement
    with translation.override(contact_language(number)):
        return translation.gettext(settings.INBOUND_ACKNOWLEDGEMENT)
