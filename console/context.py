"""What every console page knows: the person's menu, languages, and how often live parts refresh."""

from django.conf import settings
from django.http import HttpRequest

from .navigation import menu_for


def console(request: HttpRequest) -> dict:
    if not request.path.startswith("/console/"):
        return {}
    user = getattr(request, "user", None)
    signed_in = bool(user is not None and user.is_authenticated)
    return {
        "menu": menu_for(user) if signed_in else [],
        "languages": settings.LANGUAGES,
        "poll_seconds": settings.CONSOLE_POLL_SECONDS,
    }
