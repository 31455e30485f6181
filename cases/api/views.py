"""Cases and their workflow: the list and search, a case, its transitions, handover, notes and
history."""

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from drf_standardized_errors.openapi_serializers import ErrorResponse403Serializer
from drf_standardized_errors.openapi_validation_errors import extend_validation_errors
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from helpline.api.base import APIView, Fetch, NoObject, Scoped
from helpline.api.pagination import KeysetOrderingFilter, KeysetPagination, OldestFirstPagination
from helpline.api.schema import ErrorResponse409Serializer, TransitionConflictResponseSerializer
from helpline.api.serializers import AuditEntryOutput
from helpline.models import AuditEntry
from helpline.selectors import audit_entries_for_reader
from helpline.vocabulary import AuditAction

from .. import selectors, services
from ..models import Case, Note
from . import examples
from .pages import PaginatedView
from .serializers import (
    CaseCreateInput,
    CaseOutput,
    CaseSummaryOutput,
    CaseUpdateInput,
    NoteInput,
    NoteOutput,
    TransferInput,
    TransferOutput,
    TransitionInput,
)


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
