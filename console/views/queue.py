"""The operator's lists: the queue (live), the web chats waiting (live), search, callbacks and the
notification inbox."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.urls import reverse
from django.utils.translation import gettext as _

from cases import selectors as case_selectors
from cases.models import Channel
from cases.selectors import CASE_ORDERINGS
from cases.workflow import NON_CASE_CALL_TYPES, CallType, CaseState, RiskLevel
from channels_sms import selectors as channel_selectors
from helpline import policy
from helpline.vocabulary import AuditAction, PolicyAction
from notifications import selectors as notification_selectors

from ..base import ConsoleView, Fetch, Refused, Scoped, record_once

QUEUE_LENGTH = 50
OPEN_STATES = [CaseState.INTAKE, CaseState.ASSESSMENT, CaseState.REFERRAL, CaseState.FOLLOW_UP]
# The one-click dismissals offered in the queue, most frequent first.
QUICK_DISMISSALS = [CallType.SILENT, CallType.PRANK, CallType.WRONG_NUMBER, CallType.HANG_UP]
assert set(QUICK_DISMISSALS) <= NON_CASE_CALL_TYPES


def _without_poll(query: QueryDict) -> str:
    """The page's filters for its live part's address (which adds `poll=1` itself)."""
    filters = query.copy()
    filters.pop("poll", None)
    return filters.urlencode()


class QueueView(ConsoleView):
    """Open cases in the caller's scope, most urgent first, with filters; the rows refresh
    themselves (QueueRowsView)."""

    template_name = "console/queue.html"
    page = PolicyAction.CASE_LIST
    scope = {"get": Scoped(case_selectors.case_list)}
    query_fields = frozenset({"state", "risk_level", "channel", "overdue"})

    def filters(self, request: HttpRequest) -> QueryDict:
        filters = QueryDict(mutable=True)
        for name in ("state", "risk_level"):
            filters.setlist(name, request.GET.getlist(name) or (OPEN_STATES if name == "state" else []))
        for name in ("channel", "overdue"):
            if request.GET.get(name):
                filters[name] = request.GET[name]
        return filters

    def rows(self, request: HttpRequest) -> dict:
        filters = self.filters(request)
        cases = list(self.scoped(filters=filters).order_by(*CASE_ORDERINGS["urgency"])[:QUEUE_LENGTH])
        record_once(
            request,
            "console_queue_read",
            [c.pk for c in cases],
            lambda: case_selectors.record_case_list_read(user=request.user, cases=cases, filters=filters),
        )
        user = request.user
        # The addresses made once and filled in per row: a queue refreshes itself all day.
        case_url = reverse("console:case", args=[0]).replace("/0/", "/{}/")
        dismiss_url = reverse("console:dismiss", args=[0]).replace("/0/", "/{}/")
        rows = [
            {
                "case": case,
                "url": case_url.format(case.pk),
                "dismiss_url": dismiss_url.format(case.pk),
                "quick_dismiss": case.state == CaseState.INTAKE
                and policy.can(user, PolicyAction.CASE_TRANSITION_DISMISS, case),
            }
            for case in cases
        ]
        return {
            "rows": rows,
            "quick_dismissals": [(t.value, str(t.label)) for t in QUICK_DISMISSALS],
            "query": _without_poll(request.GET),
        }

    def get(self, request: HttpRequest) -> HttpResponse:
        context = self.rows(request)
        context.update(
            {
                "states": CaseState.choices,
                "risk_levels": RiskLevel.choices,
                "channels": Channel.choices,
                "chosen": {
                    "state": request.GET.getlist("state") or [str(s) for s in OPEN_STATES],
                    "risk_level": request.GET.getlist("risk_level"),
                    "channel": request.GET.get("channel", ""),
                    "overdue": request.GET.get("overdue", ""),
                },
            }
        )
        return self.render(context)


class QueueRowsView(QueueView):
    """The queue's rows alone: what the page asks for every few seconds."""

    template_name = "console/_queue_rows.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.render(self.rows(request))


class ChatsView(ConsoleView):
    """The helpline's web chats waiting for an operator's first reply, in the order the children
    wait, each with the place the child is shown; the rows refresh themselves (ChatRowsView)."""

    template_name = "console/chats.html"
    page = PolicyAction.CASE_LIST
    scope = {"get": Scoped(channel_selectors.chat_waiting_list)}

    def rows(self, request: HttpRequest) -> dict:
        rows = self.scoped()
        cases = [row["case"] for row in rows]
        record_once(
            request,
            "console_chats_read",
            [c.pk for c in cases],
            lambda: case_selectors.record_case_list_read(
                user=request.user, cases=cases, filters={"channel": Channel.CHAT, "waiting": True}
            ),
        )
        return {"rows": rows}

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.render(self.rows(request))


class ChatRowsView(ChatsView):
    """The waiting chats' rows alone: what the page asks for every few seconds."""

    template_name = "console/_chat_rows.html"


class SearchView(ConsoleView):
    """Search by name, number or reference. The words go in a POST, never in the address (it
    would keep a child's name in the browser's history and the servers' logs)."""

    template_name = "console/search.html"
    page = PolicyAction.CASE_LIST
    scope = {"get": Scoped(case_selectors.case_list), "post": Scoped(case_selectors.case_list)}
    fields = {"post": frozenset({"q"})}

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.render({})

    def post(self, request: HttpRequest) -> HttpResponse:
        text = request.POST.get("q", "").strip()
        if not text:
            raise Refused(400, [_("Enter a name, a number or a case reference.")], {"q": []})
        filters = {"q": text}
        cases = list(self.scoped(filters=filters).order_by("-created_at")[:QUEUE_LENGTH])
        case_selectors.record_case_list_read(user=request.user, cases=cases, filters=filters)
        return self.render({"q": text, "cases": cases, "searched": True})


class CallbacksView(ConsoleView):
    template_name = "console/callbacks.html"
    page = PolicyAction.CALLBACK_VIEW
    scope = {"get": Scoped(channel_selectors.callback_list)}

    def get(self, request: HttpRequest) -> HttpResponse:
        callbacks = list(self.scoped(done=False)[:QUEUE_LENGTH])
        case_selectors.record_page_read(
            user=request.user,
            action=AuditAction.CALLBACK_LIST,
            object_type="channels_sms.callback",
            rows=callbacks,
        )
        return self.render({"callbacks": callbacks})


class NotificationsView(ConsoleView):
    template_name = "console/notifications.html"
    page = None  # everyone's own (the selector keeps them to their own)
    scope = {"get": Scoped(notification_selectors.notification_list)}

    def get(self, request: HttpRequest) -> HttpResponse:
        rows = list(self.scoped()[:QUEUE_LENGTH])
        notification_selectors.record_page_read(
            user=request.user, action=AuditAction.NOTIFICATION_LIST, rows=rows
        )
        return self.render({"notifications": rows})


class CallbackDoneView(ConsoleView):
    """An operator called the child back (or tried), with what came of it."""

    page = PolicyAction.CALLBACK_VIEW
    scope = {"post": Fetch(channel_selectors.callback_get, "callback_id")}
    fields = {"post": frozenset({"outcome"})}

    def post(self, request: HttpRequest, callback_id: int) -> HttpResponse:
        from channels_sms.api.serializers import CallbackDoneInput
        from channels_sms.voice import callback_complete

        from .workspace import _valid

        fields = _valid(CallbackDoneInput, {"outcome": request.POST.get("outcome", "")})
        callback_complete(actor=request.user, callback=self.object, **fields)
        return HttpResponseRedirect(reverse("console:callbacks"))


class NotificationRowsView(NotificationsView):
    """The inbox's rows alone: what the page asks for every few seconds."""

    template_name = "console/_notification_rows.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        rows = list(self.scoped()[:QUEUE_LENGTH])
        record_once(
            request,
            "console_inbox_read",
            [r.pk for r in rows],
            lambda: notification_selectors.record_page_read(
                user=request.user, action=AuditAction.NOTIFICATION_LIST, rows=rows
            ),
        )
        return self.render({"notifications": rows})
