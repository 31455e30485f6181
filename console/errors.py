"""The CSRF refusal in the console's one error shape (settings.CSRF_FAILURE_VIEW)."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    context = {
        "status": 403,
        "messages_": [
            _("This form has expired or did not come from this site: reload the page and try again.")
        ],
        "field_errors": {},
    }
    response = render(request, "console/error.html", context, status=403)
    response.headers["Cache-Control"] = "no-store, private"
    return response
