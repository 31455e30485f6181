"""The language an answer is written in (issue #16).

The stable parts of an answer (error `code`s, states, category codes) never change with the
language; the human texts (`detail`, labels) follow the caller: the first language of the request's
`Accept-Language` that this installation speaks (quality values honoured, `es-MX` falling back to
`es`), else the signed-in caller's own language, else their helpline's default language when it
is one of ours, else English
(settings.LANGUAGE_CODE). `Content-Language` names the language of every answer."""

from collections.abc import Iterator

from django.conf import settings
from django.http import HttpRequest
from django.utils import translation
from django.utils.cache import patch_vary_headers

# Django's own parser of the header (quality values, ordering, malformed parts dropped).
from django.utils.translation.trans_real import parse_accept_lang_header


def language_codes() -> list[str]:
    """The languages of this installation (settings.LANGUAGES): what a helpline or a person may choose."""
    return [code for code, _name in settings.LANGUAGES]


def supported(code: str | None) -> str | None:
    """`code` as one of settings.LANGUAGES ("es-MX" -> "es"), or None when we do not speak it."""
    if not code:
        return None
    try:
        return translation.get_supported_language_variant(code)
    except LookupError:
        return None


def requested(header: str) -> str | None:
    """The first language of an Accept-Language header that we speak, by quality; None if none."""
    for code, quality in parse_accept_lang_header(header):
        # q=0 means "not this one" (RFC 9110); Django's parser keeps such entries.
        if code != "*" and quality > 0 and (found := supported(code)):
            return found
    return None


def _in_language(language: str, content: Iterator) -> Iterator:
    # A streamed answer (the notification stream) is written after the view returns: in its
    # request's language, not in whatever is active by then.
    with translation.override(language):
        yield from content


class LanguageMiddleware:
    """Answers in the language the request asks for (or English until the API view knows the
    caller's helpline: helpline.api.base.APIView), and says which in `Content-Language`."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        chosen = requested(request.headers.get("Accept-Language", ""))
        request.language_requested = chosen
        translation.activate(chosen or settings.LANGUAGE_CODE)
        try:
            response = self.get_response(request)
            language = translation.get_language()
            response.headers.setdefault("Content-Language", language)
            patch_vary_headers(response, ("Accept-Language",))
            if response.streaming:
                response.streaming_content = _in_language(language, response.streaming_content)
        finally:
            translation.deactivate()
        return response


def language_of(user, *, helpline=None) -> str:
    """The language a person reads: their own choice, else their helpline's default (`helpline`
    for a reader with no account, a partner agency), else English. Notifications are written in
    it; the API too, when the request names none of ours."""
    chosen = supported(getattr(user, "language", "")) if user is not None else None
    if not chosen and getattr(user, "helpline_id", None):
        helpline = user.helpline
    if not chosen and helpline is not None:
        chosen = supported(helpline.default_language)
    return chosen or settings.LANGUAGE_CODE


def use_the_callers_language(request: HttpRequest, user) -> None:
    """Once the caller is known: their language (their own, else their helpline's), when the
    request named none of ours. Anonymous callers (sign-in, the web chat) keep the request's or
    English."""
    if getattr(request, "language_requested", None) or not getattr(user, "is_authenticated", False):
        return
    translation.activate(language_of(user))
