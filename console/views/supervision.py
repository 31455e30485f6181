"""Supervisors: the floor's live figures, escalations to acknowledge, a case's history."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from cases import selectors as case_selectors
from cases import services as case_services
from helpline.vocabulary import AuditAction, PolicyAction

from ..base import ConsoleView, Fetch, Scoped
from ..selectors import floor_figures

LIST_LENGTH = 100


class DashboardView(ConsoleView):
    template_name = "console/dashboard.html"
    page = PolicyAction.DASHBOARD_VIEW
    scope = {"get": Scoped(floor_figures)}

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.render({"floor": self.scoped()})


class DashboardFiguresView(DashboardView):
    template_name = "console/_dashboard_figures.html"


class EscalationsView(ConsoleView):
    template_name = "console/escalations.html"
    page = PolicyAction.DASHBOARD_VIEW
    scope = {"get": Scoped(case_selectors.escalation_list)}

    def get(self, request: HttpRequest) -> HttpResponse:
        escalations = list(self.scoped(acknowledged=False)[:LIST_LENGTH])
        case_selectors.record_page_read(
            user=request.user,
            action=AuditAction.ESCALATION_LIST,
            object_type="cases.escalation",
            rows=escalations,
        )
        return self.render({"escalations": escalations})


class AcknowledgeView(ConsoleView):
    page = PolicyAction.DASHBOARD_VIEW
    scope = {"post": Fetch(case_selectors.escalation_get, "escalation_id")}
    fields = {"post": frozenset()}

    def post(self, request: HttpRequest, escalation_id: int) -> HttpResponse:
        case_services.escalation_acknowledge(actor=request.user, escalation=self.object)
        return HttpResponseRedirect(reverse("console:escalations"))


class HistoryView(ConsoleView):
    """A case's history as a timeline (its audit trail, policy "case.history")."""

    template_name = "console/history.html"
    page = PolicyAction.DASHBOARD_VIEW
    scope = {"get": Scoped(case_selectors.case_history, kwarg="case_id")}

    def get(self, request: HttpRequest, case_id: int) -> HttpResponse:
        entries = list(self.scoped())
        return self.render({"entries": entries, "case_id": case_id})
