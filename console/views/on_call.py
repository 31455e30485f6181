"""The helpline's on-call rota: who is paged out of hours, in weekly slots in the helpline's time zone.
Supervisors and administrators of the helpline read it and replace it as a whole (helpline.policy:
on_call.manage), as PUT /api/v1/notifications/on-call/ does: the form is validated by the API's
own input serializer (notifications.api.serializers.RotaInput) and written by
notifications.services.on_call_set, which checks the policy and every shift again and writes the
audit entry."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.dates import WEEKDAYS as WEEKDAY_NAMES
from django.utils.translation import gettext as _

from helpline import policy
from helpline.models import Helpline
from helpline.vocabulary import PolicyAction
from notifications import selectors as notification_selectors
from notifications import services as notification_services
from notifications.api.serializers import RotaInput

from ..base import ConsoleView, Own, Refused, Scoped
from ..selectors import on_call_candidates
from .administration import _to

# The rows of the form: every shift of the rota and a few empty ones to add, at most as many as the
# API takes (RotaInput).
EMPTY_ROWS = 5
MAX_SHIFTS = RotaInput().fields["shifts"].max_length
SHIFT_PARTS = ("user", "weekdays", "starts", "ends")
SHIFT_FIELDS = frozenset(f"{part}_{index}" for part in SHIFT_PARTS for index in range(MAX_SHIFTS))
# ISO weekdays (1 Monday ... 7 Sunday) with their names in the reader's language.
ISO_WEEKDAYS = [(number + 1, name) for number, name in WEEKDAY_NAMES.items()]
# A refusal of the service names the shift by its place in what was sent: shifts.<index>.<field>.
SERVICE_KEY = re.compile(r"^shifts\.(\d+)\.(\w+)$")


def _messages(detail: Any) -> list[str]:
    if isinstance(detail, Mapping):
        return [message for value in detail.values() for message in _messages(value)]
    if isinstance(detail, (list, tuple)):
        return [message for item in detail for message in _messages(item)]
    return [str(detail)]


def _row_key(row: int, part: str) -> str:
    # Translators: where a problem of the on-call form is: the shift's row (1, 2...) and its field.
    return _("shift %(row)s, %(field)s") % {"row": row, "field": part}


def _refused(detail: Any, rows: list[int]) -> Refused:
    """The serializer's or the service's refusal, each problem named by the form's row (`rows`: the
    form's row of each shift sent, counted from 1)."""
    fields: dict[str, list[str]] = {}
    general: list[str] = []
    shifts = detail.get("shifts") if isinstance(detail, Mapping) else None
    # The serializer's refusals per shift: by the shift's index (DRF's errors of a list, as a dict,
    # or as a list with the valid shifts' entries empty).
    if isinstance(shifts, list) and all(isinstance(item, Mapping) for item in shifts):
        shifts = dict(enumerate(shifts))
    if isinstance(shifts, Mapping) and shifts and all(isinstance(index, int) for index in shifts):
        for index, problems in shifts.items():
            for part, messages in problems.items():
                fields[_row_key(rows[index], part)] = _messages(messages)
    elif shifts is not None:
        general += _messages(shifts)
    elif isinstance(detail, Mapping):
        for key, messages in detail.items():
            found = SERVICE_KEY.match(str(key))
            if found and int(found.group(1)) < len(rows):
                fields[_row_key(rows[int(found.group(1))], found.group(2))] = _messages(messages)
            else:
                general += _messages(messages)
    else:
        general += _messages(detail)
    return Refused(400, general or [_("Some of what you entered needs correcting.")], fields)


def _row(shift: Any = None) -> dict[str, Any]:
    if shift is None:
        return {"user_id": None, "weekdays": [], "starts": "", "ends": ""}
    return {
        "user_id": shift.user_id,
        "user": shift.user,
        "weekdays": list(shift.weekdays),
        "starts": f"{shift.starts:%H:%M}",
        "ends": f"{shift.ends:%H:%M}",
    }


class OnCallView(ConsoleView):
    """The rota of the caller's helpline and the form that replaces it (mirrors GET/PUT
    /api/v1/notifications/on-call/). A row without a person and times is an unused one; the rota is
    what the other rows say, and nothing when none is filled in."""

    template_name = "console/admin_on_call.html"
    # Operators read the rota (who is paged tonight) as the API lets them; supervisors and
    # administrators also replace it.
    page = PolicyAction.ON_CALL_VIEW
    post_page = PolicyAction.ON_CALL_MANAGE
    scope = {
        "get": Scoped(notification_selectors.on_call_shifts),
        "post": Own("replaces the rota of the caller's own helpline (the service asks the policy)"),
    }
    fields = {"post": SHIFT_FIELDS}

    def get(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if user.helpline_id is None:
            # A platform administrator: each helpline's own people keep its rota.
            return self.render({"no_helpline": True})
        shifts = list(self.scoped())
        may_manage = policy.can(user, PolicyAction.ON_CALL_MANAGE, user.helpline)
        people = on_call_candidates(user=user) if may_manage else []
        rows = [_row(shift) for shift in shifts] + [_row()] * EMPTY_ROWS
        return self.render(
            {
                "helpline": user.helpline,
                "shifts": shifts,
                "may_manage": may_manage,
                "rows": rows[:MAX_SHIFTS] if may_manage else [],
                "people": people,
                "weekdays": ISO_WEEKDAYS,
                "weekday_names": dict(ISO_WEEKDAYS),
            }
        )

    def post(self, request: HttpRequest) -> HttpResponse:
        helpline = Helpline.objects.filter(pk=request.user.helpline_id).first()
        if helpline is None:
            raise Http404
        shifts, rows = [], []
        for index in range(MAX_SHIFTS):
            shift = {
                "user": request.POST.get(f"user_{index}", "").strip(),
                "weekdays": request.POST.getlist(f"weekdays_{index}"),
                "starts": request.POST.get(f"starts_{index}", "").strip(),
                "ends": request.POST.get(f"ends_{index}", "").strip(),
            }
            if any(shift.values()):  # an untouched row is an unused one
                shifts.append(shift)
                rows.append(index + 1)
        body = RotaInput(data={"shifts": shifts}, context={"request": request})
        if not body.is_valid():
            raise _refused(body.errors, rows)
        given = [notification_services.ShiftInput(**shift) for shift in body.validated_data["shifts"]]
        try:
            notification_services.on_call_set(actor=request.user, helpline=helpline, shifts=given)
        except ValidationError as exc:  # the service's refusal of a shift: shifts.<index>.<field>
            raise _refused(exc.message_dict if hasattr(exc, "error_dict") else exc.messages, rows) from None
        return _to("admin-on-call")
