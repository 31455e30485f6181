"""Thin HTTP views: parse input, call one service or selector, render the output."""

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from drf_standardized_errors.openapi_serializers import ErrorResponse403Serializer
from drf_standardized_errors.openapi_validation_errors import extend_validation_errors
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from helpline.api.base import APIView, Fetch, NoObject, Scoped
from helpline.api.pagination import KeysetOrderingFilter, KeysetPagination, OldestFirstPagination
from helpline.api.params import optional_bool
from helpline.api.schema import ErrorResponse409Serializer, TransitionConflictResponseSerializer
from helpline.api.serializers import AuditEntryOutput
from helpline.models import AuditEntry
from helpline.selectors import audit_entries_for_reader
from helpline.vocabulary import AuditAction

from .. import selectors, services
from ..models import Case, CaseAccess, Category, Contact, Escalation, Note
from . import examples
from .serializers import (
    BreakGlassInput,
    BreakGlassOutput,
    CaseAccessInput,
    CaseAccessOutput,
    CaseCreateInput,
    CaseOutput,
    CaseSummaryOutput,
    CaseUpdateInput,
    CategoryOutput,
    ContactAttachInput,
    ContactOutput,
    ContactUpdateInput,
    EscalationOutput,
    NoteInput,
    NoteOutput,
    TransferInput,
    TransferOutput,
    TransitionInput,
)


class PaginatedView(APIView):
    """Renders a queryset one cursor page at a time.

    Views read through selectors only; `queryset` is set to an empty one so that anything reaching
    for `get_queryset()` instead fails closed (and the schema generator knows the model)."""

    def paginated(self, queryset, serializer_class, *, on_page=None):
        page = self.paginate_queryset(queryset)
        if on_page is not None:
            on_page(page)
        data = serializer_class(page, many=True, context=self.get_serializer_context()).data
        return self.get_paginated_response(data)


@extend_schema_view(
    get=extend_schema(
        operation_id="cases_list",
        examples=examples.CASES_LIST,
        description=(
            "The cases the caller may see (supervisors: their helpline's; operators: the intake queue, "
            "their team's and those assigned to them; "
            "restricted cases only for their need-to-know list), as summaries without personal details "
            "beyond the child's first name, newest first. Filters: `state`, `risk_level`, "
            "`assigned_to`, `unassigned`, `team`, `channel`, `category`, `created_after`, "
            "`created_before`, `due_before`, `overdue`, `reference`; `ordering`. Cursor pagination "
            "(`next`/`previous`, `page_size` up to 200). A summary carries no `available_transitions`: "
            "read the case for them. Operators and supervisors.\n\n"
            "`q` searches by case reference, the child's or the reporter's name, or a phone number in "
            "any common format, within the caller's cases only, combined with the other filters. Names "
            "match whatever their case, accents or spacing, in Mongolian Cyrillic or its Latin "
            "spelling; each word of 3 letters or more matches as a prefix and every word must match. "
            "A `q` of fewer than 3 letters or digits answers 400. The audit entry of the read records "
            "that a search was made, never its text.\n\n"
            "`ordering=urgency` is the intake queue's order: risk level most severe first (critical, "
            "high, medium, low, unassessed), then the next action's due date soonest first (none "
            "last), then arrival, oldest first. `risk_level` orders by severity (`-risk_level`: "
            "critical first), `next_action_due_at` soonest first with cases that have none last; "
            "`-` reverses any order exactly. Without `ordering`: newest first (`-created_at`). "
            "Pages follow the `next` and `previous` links; a page's cursor stands at a row of the "
            "whole order, so cases opened or changed meanwhile never repeat or skip a case that "
            "stayed in place."
        ),
        summary="Cases the caller may see, as summaries (details and transitions: GET the case)",
        responses=CaseSummaryOutput(many=True),
    ),
    post=extend_schema(
        operation_id="cases_create",
        examples=examples.CASE_CREATE,
        description=(
            "Operators and supervisors open a case in intake with its first contact (channel, when it "
            "started, a summary) and what is known of the child and reporter. The case gets a reference"
            " and a due date from its risk level (the helpline's `due_policy`). 400 for unknown "
            "categories or fields; 403 for agency users and administrators."
        ),
        summary="Open a case at intake (e.g. a walk-in) with its first contact",
        request=CaseCreateInput,
        responses={201: CaseOutput, 403: ErrorResponse403Serializer},
    ),
)
class CaseListView(PaginatedView):
    audit_actions = {
        "get": (AuditAction.CASE_LIST, "cases.case"),
        "post": (AuditAction.CASE_CREATE, "cases.case"),
    }
    scope = {
        "get": Scoped(selectors.case_list),
        "post": NoObject("opens a new case; its input's relations are scoped by their fields"),
    }
    serializer_class = CaseOutput
    # Filtering happens in the selector; the backends describe it in the schema, and the keyset
    # paginator orders by `?ordering=` through KeysetOrderingFilter (terms: CASE_ORDERINGS).
    filter_backends = [DjangoFilterBackend, KeysetOrderingFilter]
    filterset_class = selectors.CaseFilter
    pagination_class = KeysetPagination
    queryset = Case.objects.none()
    ordering_keys = selectors.CASE_ORDERINGS
    ordering_fields = tuple(selectors.CASE_ORDERINGS)
    ordering = "-created_at"

    def get(self, request: Request) -> Response:
        cases = self.scoped(filters=request.query_params)
        return self.paginated(
            cases,
            CaseSummaryOutput,
            on_page=lambda page: selectors.record_case_list_read(
                user=request.user, cases=page, filters=request.query_params
            ),
        )

    def post(self, request: Request) -> Response:
        data = CaseCreateInput(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        case = services.case_create(actor=request.user, **data.validated_data)
        return Response(CaseOutput(case, context={"request": request}).data, status=status.HTTP_201_CREATED)


class CaseDetailView(APIView):
    audit_actions = {
        "get": (AuditAction.CASE_READ, "cases.case"),
        "patch": (AuditAction.CASE_UPDATE, "cases.case"),
    }
    scope = {
        "get": Fetch(selectors.case_get, "case_id"),
        "patch": Fetch(selectors.case_get, "case_id", action=AuditAction.CASE_UPDATE, for_write=True),
    }

    serializer_class = CaseOutput

    @extend_schema(
        operation_id="cases_retrieve",
        summary="Read one case, with what the caller may do next",
        description=(
            "The case in full (child, reporter, categories, risk, assignment, due dates) and "
            "`available_transitions`: the workflow steps this caller may take now. The read is audited."
            " 404 for an unknown case or one outside the caller's scope (the same answer)."
        ),
        responses=CaseOutput,
    )
    def get(self, request: Request, case_id: int) -> Response:
        return Response(CaseOutput(self.object, context={"request": request}).data)

    @extend_schema(
        operation_id="cases_partial_update",
        summary="Change a case's details (risk, categories, child, reporter, assignment)",
        description=(
            "Changes the fields sent, never the state (use transitions). A new risk level re-times the "
            "due date; `restricted` is changed by supervisors only. 403 when the caller's role may not "
            "change a field, 409 when the case is closed (a supervisor can reopen it), 404 outside the "
            "caller's scope."
        ),
        request=CaseUpdateInput,
        responses={200: CaseOutput, 403: ErrorResponse403Serializer, 409: ErrorResponse409Serializer},
    )
    def patch(self, request: Request, case_id: int) -> Response:
        data = CaseUpdateInput(data=request.data, partial=True, context={"request": request})
        data.is_valid(raise_exception=True)
        case = services.case_update(actor=request.user, case=self.object, **data.validated_data)
        return Response(CaseOutput(case, context={"request": request}).data)


class CaseTransitionView(APIView):
    audit_actions = {"post": (AuditAction.CASE_TRANSITION, "cases.case")}
    scope = {"post": Fetch(selectors.case_get, "case_id", action=AuditAction.CASE_TRANSITION, for_write=True)}

    serializer_class = TransitionInput

    @extend_schema(
        operation_id="cases_transition",
        examples=examples.CASE_TRANSITION,
        summary="Move a case along its workflow",
        description=(
            "`name` is one of the case's `available_transitions`. `dismiss`, `close` and `reopen` need a "
            "`reason`; `start_follow_up` needs `follow_up_due_at`. 409 when the transition is not possible "
            "from the case's state (the answer lists `available_transitions`), 403 when the caller's role "
            "may not take it."
        ),
        request=TransitionInput,
        responses={
            200: CaseOutput,
            403: ErrorResponse403Serializer,
            409: OpenApiResponse(
                TransitionConflictResponseSerializer, description="Transition not possible now"
            ),
        },
    )
    def post(self, request: Request, case_id: int) -> Response:
        data = TransitionInput(data=request.data)
        data.is_valid(raise_exception=True)
        # Rendered from the service's result, not re-read: a transition may take the case out of
        # the caller's scope (an operator dismissing another team's intake case), and it still
        # happened.
        case = services.case_transition(actor=request.user, case=self.object, **data.validated_data)
        return Response(CaseOutput(case, context={"request": request}).data)


@extend_validation_errors(["one_receiver"], field_name="non_field_errors", methods=["post"])
@extend_validation_errors(
    ["cannot_receive", "already_assigned", "not_on_need_to_know"], field_name="to_user", methods=["post"]
)
@extend_validation_errors(
    ["retired", "restricted", "already_assigned"], field_name="to_team", methods=["post"]
)
class CaseTransferView(APIView):
    audit_actions = {"post": (AuditAction.CASE_TRANSFER, "cases.case")}
    scope = {"post": Fetch(selectors.case_get, "case_id", action=AuditAction.CASE_TRANSFER, for_write=True)}

    serializer_class = TransferInput

    @extend_schema(
        operation_id="cases_transfer",
        summary="Hand a case over to a colleague or a team, with a note",
        description=(
            "Name exactly one receiver: `to_user`, an active operator or supervisor of the helpline "
            "(the case is assigned to them and moves to their team), or `to_team`, a team that is not "
            "retired (the case waits in its queue, assigned to nobody). `note` is required: what the "
            "receiver needs to know; it is stored encrypted as a case note, which the receiver reads "
            "with the case's notes. The case keeps its state and history; the handover is in the "
            "audit log (`case.transfer`, with the note's id, never its text).\n\n"
            "Who may: the operator the case is assigned to, an operator of the case's team while "
            "nobody has taken it, and supervisors (403 otherwise; 404 for a case the caller cannot "
            "see). A restricted case goes to a person only: one on its need-to-know list, or anyone a "
            "supervisor hands it to (they are added to the list). 400 for a receiver who cannot "
            "take the case (`cannot_receive`, `not_on_need_to_know`, `retired`, `restricted`, "
            "`already_assigned`), another helpline's user or team (`does_not_exist`), or both or "
            "neither receiver (`one_receiver`); 409 for a closed case."
        ),
        request=TransferInput,
        responses={200: TransferOutput, 403: ErrorResponse403Serializer, 409: ErrorResponse409Serializer},
    )
    def post(self, request: Request, case_id: int) -> Response:
        data = TransferInput(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        transfer = services.case_transfer(actor=request.user, case=self.object, **data.validated_data)
        return Response(TransferOutput(transfer).data)


class CaseNotesView(APIView):
    audit_actions = {
        "get": (AuditAction.NOTE_LIST, "cases.case"),
        "post": (AuditAction.NOTE_CREATE, "cases.case"),
    }
    scope = {
        "get": Scoped(selectors.note_list, kwarg="case_id"),
        "post": Fetch(selectors.case_get, "case_id", action=AuditAction.NOTE_CREATE, for_write=True),
    }

    serializer_class = NoteOutput
    queryset = Note.objects.none()
    pagination_class = None  # all of a case's notes at once

    @extend_schema(
        operation_id="cases_notes_list",
        summary="A case's notes, oldest first",
        description=(
            "All notes of the case at once (append-only: notes are never changed). Staff who may see "
            "the case; 404 otherwise."
        ),
        responses=NoteOutput(many=True),
    )
    def get(self, request: Request, case_id: int) -> Response:
        notes = self.scoped()
        return Response(NoteOutput(notes, many=True).data)

    @extend_schema(
        operation_id="cases_notes_create",
        summary="Add a note to a case",
        description=(
            "Appends a note (stored encrypted). Operators and supervisors who may see the case; 404 "
            "otherwise, 400 for an empty body."
        ),
        request=NoteInput,
        responses={201: NoteOutput},
    )
    def post(self, request: Request, case_id: int) -> Response:
        data = NoteInput(data=request.data)
        data.is_valid(raise_exception=True)
        note = services.note_create(actor=request.user, case=self.object, **data.validated_data)
        return Response(NoteOutput(note).data, status=status.HTTP_201_CREATED)


class CaseHistoryView(PaginatedView):
    audit_actions = {"get": (AuditAction.CASE_HISTORY, "cases.case")}
    scope = {"get": Scoped(selectors.case_history, kwarg="case_id")}

    serializer_class = AuditEntryOutput
    pagination_class = OldestFirstPagination
    queryset = AuditEntry.objects.none()

    @extend_schema(
        operation_id="cases_history",
        description=(
            "The case's audit trail: every read and write of it, by whom and when, oldest first. "
            "Supervisors of the case's helpline; 404 otherwise."
        ),
        summary="Everything that happened to a case, oldest first (supervisors)",
        responses=AuditEntryOutput(many=True),
    )
    def get(self, request: Request, case_id: int) -> Response:
        entries = self.scoped()
        # Entries of links and merges name the other case: shown only to a reader who may see it.
        page = audit_entries_for_reader(user=request.user, entries=self.paginate_queryset(entries))
        data = AuditEntryOutput(page, many=True, context=self.get_serializer_context()).data
        return self.get_paginated_response(data)


@extend_schema_view(
    get=extend_schema(
        operation_id="contacts_list",
        summary="Contacts the caller may see (calls, messages, chats)",
        description=(
            "Every contact of the caller's helpline that the caller may see, newest first; filters "
            "`case`, `channel`, `unattached=true` (contacts not yet in a case). Cursor pagination. "
            "Operators and supervisors.\n\n"
            "`q` finds the contacts of the cases a case search finds (reference, names, the reporter's "
            "number) and the contacts whose sender had that phone number; 400 when it has fewer than 3 "
            "letters or digits."
        ),
        responses=ContactOutput(many=True),
    ),
)
class ContactListView(PaginatedView):
    audit_actions = {"get": (AuditAction.CONTACT_LIST, "cases.contact")}
    scope = {"get": Scoped(selectors.contact_list)}
    serializer_class = ContactOutput
    filter_backends = [DjangoFilterBackend]
    filterset_class = selectors.ContactFilter
    queryset = Contact.objects.none()

    def get(self, request: Request) -> Response:
        contacts = self.scoped(filters=request.query_params)
        return self.paginated(
            contacts,
            ContactOutput,
            on_page=lambda page: selectors.record_contact_list_read(
                user=request.user, contacts=page, filters=request.query_params
            ),
        )


class ContactDetailView(APIView):
    audit_actions = {
        "get": (AuditAction.CONTACT_READ, "cases.contact"),
        "patch": (AuditAction.CONTACT_UPDATE, "cases.contact"),
    }
    scope = {
        "get": Fetch(selectors.contact_get, "contact_id"),
        "patch": Fetch(
            selectors.contact_get, "contact_id", action=AuditAction.CONTACT_UPDATE, for_write=True
        ),
    }

    def audit_case_id(self) -> int | None:
        return Contact.objects.filter(pk=self.kwargs["contact_id"]).values_list("case_id", flat=True).first()

    serializer_class = ContactOutput

    @extend_schema(
        operation_id="contacts_retrieve",
        summary="Read one contact",
        description=(
            "A call, message or chat turn with its channel, times, classification (call type) and case."
            " 404 outside the caller's scope."
        ),
        responses=ContactOutput,
    )
    def get(self, request: Request, contact_id: int) -> Response:
        return Response(ContactOutput(self.object).data)

    @extend_schema(
        operation_id="contacts_partial_update",
        summary="Classify a contact",
        description=(
            "Sets the contact's call type, summary and end time. Operators and supervisors; 404 outside"
            " the caller's scope."
        ),
        request=ContactUpdateInput,
        responses=ContactOutput,
    )
    def patch(self, request: Request, contact_id: int) -> Response:
        data = ContactUpdateInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        contact = services.contact_update(actor=request.user, contact=self.object, **data.validated_data)
        return Response(ContactOutput(contact).data)


class ContactAttachView(APIView):
    audit_actions = {"post": (AuditAction.CONTACT_ATTACH, "cases.contact")}
    # The case named in the body is fetched by the handler, through the same selector.
    scope = {
        "post": Fetch(selectors.contact_get, "contact_id", action=AuditAction.CONTACT_ATTACH, for_write=True)
    }

    def audit_case_id(self) -> int | None:
        return Contact.objects.filter(pk=self.kwargs["contact_id"]).values_list("case_id", flat=True).first()

    serializer_class = ContactAttachInput

    @extend_schema(
        operation_id="contacts_attach",
        description=(
            "Puts an unattached contact into an open case of the same helpline. 409 "
            "`contact_already_attached` or `case_closed`; 400 for a case of another helpline; 404 "
            "outside the caller's scope."
        ),
        summary="Put a contact into a case",
        request=ContactAttachInput,
        responses={200: ContactOutput, 409: ErrorResponse409Serializer},
    )
    def post(self, request: Request, contact_id: int) -> Response:
        data = ContactAttachInput(data=request.data)
        data.is_valid(raise_exception=True)
        case = selectors.case_get(
            user=request.user,
            case_id=data.validated_data["case"],
            action=AuditAction.CONTACT_ATTACH,
            for_write=True,
        )
        contact = services.contact_attach(actor=request.user, contact=self.object, case=case)
        return Response(ContactOutput(contact).data)


@extend_validation_errors(["invalid"], field_name="acknowledged", methods=["get"])
class EscalationListView(PaginatedView):
    audit_actions = {"get": (AuditAction.ESCALATION_LIST, "cases.escalation")}
    scope = {"get": Scoped(selectors.escalation_list)}
    serializer_class = EscalationOutput
    queryset = Escalation.objects.none()

    @extend_schema(
        operation_id="escalations_list",
        description=(
            "Escalations raised for the caller's helpline: overdue cases (`overdue`), referrals expired"
            " unanswered (`referral_expired`) or rejected (`referral_rejected`), emergency referrals "
            "made without consent (`emergency_referral`), agencies that could not be notified "
            "(`delivery_failed`) and messages stored late after a database outage (`stored_late`); "
            "filter `acknowledged`. Operators and supervisors."
        ),
        summary="Escalations: cases that need a person now",
        parameters=[OpenApiParameter("acknowledged", bool, description="Only (un)acknowledged ones")],
        responses=EscalationOutput(many=True),
    )
    def get(self, request: Request) -> Response:
        acknowledged = optional_bool(request, "acknowledged")
        return self.paginated(
            self.scoped(acknowledged=acknowledged),
            EscalationOutput,
            on_page=lambda page: selectors.record_page_read(
                user=request.user,
                action=AuditAction.ESCALATION_LIST,
                object_type="cases.escalation",
                rows=page,
            ),
        )


class EscalationAcknowledgeView(APIView):
    audit_actions = {"post": (AuditAction.ESCALATION_ACKNOWLEDGE, "cases.escalation")}
    scope = {"post": Fetch(selectors.escalation_get, "escalation_id")}

    def audit_case_id(self) -> int | None:
        return (
            Escalation.objects.filter(pk=self.kwargs["escalation_id"])
            .values_list("case_id", flat=True)
            .first()
        )

    serializer_class = EscalationOutput

    @extend_schema(
        operation_id="escalations_acknowledge",
        summary="Acknowledge an escalation (supervisors)",
        description=(
            "A supervisor marks the escalation seen. 403 for other roles, 409 `already_acknowledged`, "
            "404 outside the caller's helpline."
        ),
        request=None,
        responses={200: EscalationOutput, 403: ErrorResponse403Serializer, 409: ErrorResponse409Serializer},
    )
    def post(self, request: Request, escalation_id: int) -> Response:
        escalation = services.escalation_acknowledge(actor=request.user, escalation=self.object)
        return Response(EscalationOutput(escalation).data)


class CategoryListView(APIView):
    scope = {"get": Scoped(selectors.category_list)}
    serializer_class = CategoryOutput
    queryset = Category.objects.none()
    pagination_class = None  # a helpline's whole category list at once

    @extend_schema(
        operation_id="categories_list",
        description=(
            "The helpline's case categories (code and label, grouped), to fill a case's `categories`. "
            "Operators and supervisors."
        ),
        summary="The caller's helpline's case categories",
        responses=CategoryOutput(many=True),
    )
    def get(self, request: Request) -> Response:
        return Response(CategoryOutput(self.scoped(), many=True).data)


class CaseAccessView(APIView):
    audit_actions = {
        "get": (AuditAction.CASE_ACCESS, "cases.case"),
        "put": (AuditAction.CASE_RESTRICT, "cases.case"),
    }
    scope = {
        "get": Fetch(selectors.case_access_get, "case_id"),  # the case and its grants
        "put": Fetch(selectors.case_get, "case_id", action=AuditAction.CASE_RESTRICT, for_write=True),
    }

    serializer_class = CaseAccessOutput

    @staticmethod
    def _render(case, grants) -> Response:
        return Response(CaseAccessOutput({"restricted": case.restricted, "need_to_know": grants}).data)

    @extend_schema(
        operation_id="cases_access_retrieve",
        description=(
            "The users who may still see a restricted case (its need-to-know list). Supervisors of the "
            "case's helpline; 404 otherwise."
        ),
        summary="A case's need-to-know list (supervisors)",
    )
    def get(self, request: Request, case_id: int) -> Response:
        return self._render(*self.object)

    @extend_schema(
        operation_id="cases_access_update",
        summary="Restrict a case to a need-to-know list (supervisors)",
        description="Replaces the list; the calling supervisor always stays on it. Everyone else, other "
        "supervisors included, then gets 404 for the case and no longer sees it in lists.",
        request=CaseAccessInput,
        responses={200: CaseAccessOutput, 403: ErrorResponse403Serializer},
    )
    def put(self, request: Request, case_id: int) -> Response:
        data = CaseAccessInput(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        services.case_set_access(actor=request.user, case=self.object, users=data.validated_data["users"])
        case = Case.objects.get(pk=self.object.pk)
        return self._render(case, selectors.case_access_list(user=request.user, case=case))


class CaseBreakGlassView(APIView):
    audit_actions = {"post": (AuditAction.CASE_BREAK_GLASS, "cases.case")}
    scope = {"post": Fetch(selectors.case_for_break_glass, "case_id")}

    serializer_class = BreakGlassInput

    @extend_schema(
        operation_id="cases_break_glass",
        summary="Open a restricted case in an emergency (supervisors)",
        description="Grants the calling supervisor access for a limited time; flagged in the audit log "
        "and listed at /api/v1/break-glass/ for review by another supervisor.",
        request=BreakGlassInput,
        responses={201: BreakGlassOutput},
    )
    def post(self, request: Request, case_id: int) -> Response:
        data = BreakGlassInput(data=request.data)
        data.is_valid(raise_exception=True)
        grant = services.case_break_glass(actor=request.user, case=self.object, **data.validated_data)
        return Response(BreakGlassOutput(grant).data, status=status.HTTP_201_CREATED)


@extend_validation_errors(["invalid"], field_name="reviewed", methods=["get"])
class BreakGlassListView(PaginatedView):
    audit_actions = {"get": (AuditAction.CASE_BREAK_GLASS_LIST, "cases.caseaccess")}
    scope = {"get": Scoped(selectors.break_glass_list)}
    serializer_class = BreakGlassOutput
    queryset = CaseAccess.objects.none()

    @extend_schema(
        operation_id="break_glass_list",
        description=(
            "Emergency accesses to restricted cases (break-glass), newest first, for another supervisor"
            " to review. Supervisors only; 404 for other roles."
        ),
        summary="Break-glass accesses to review (supervisors)",
        parameters=[OpenApiParameter("reviewed", bool, description="Only (un)reviewed ones")],
        responses=BreakGlassOutput(many=True),
    )
    def get(self, request: Request) -> Response:
        reviewed = optional_bool(request, "reviewed")
        return self.paginated(
            self.scoped(reviewed=reviewed),
            BreakGlassOutput,
            on_page=lambda page: selectors.record_page_read(
                user=request.user,
                action=AuditAction.CASE_BREAK_GLASS_LIST,
                object_type="cases.caseaccess",
                rows=page,
            ),
        )


class BreakGlassReviewView(APIView):
    audit_actions = {"post": (AuditAction.CASE_BREAK_GLASS_REVIEW, "cases.caseaccess")}
    scope = {"post": Fetch(selectors.break_glass_get, "grant_id")}

    def audit_case_id(self) -> int | None:
        return CaseAccess.objects.filter(pk=self.kwargs["grant_id"]).values_list("case_id", flat=True).first()

    serializer_class = BreakGlassOutput

    @extend_schema(
        operation_id="break_glass_review",
        summary="Review a break-glass access (another supervisor)",
        description=(
            "A supervisor other than the one who used it marks the emergency access reviewed. 403 for "
            "the supervisor's own access, 409 `already_reviewed`, 404 outside the caller's helpline."
        ),
        request=None,
        responses={200: BreakGlassOutput, 403: ErrorResponse403Serializer, 409: ErrorResponse409Serializer},
    )
    def post(self, request: Request, grant_id: int) -> Response:
        grant = services.break_glass_review(actor=request.user, grant=self.object)
        return Response(BreakGlassOutput(grant).data)
