"""Links between cases and the merge of a duplicate: thin views over cases.services.links/merge."""

from drf_spectacular.utils import OpenApiExample, extend_schema
from drf_standardized_errors.openapi_serializers import ErrorResponse403Serializer
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from helpline.api.base import APIView, Fetch, Scoped
from helpline.api.schema import ErrorResponse409Serializer
from helpline.vocabulary import AuditAction

from .. import selectors, services
from ..models import CaseLink
from .serializers import CaseLinkInput, CaseLinkOutput, CaseMergeInput, CaseOutput


class CaseLinksView(APIView):
    audit_actions = {
        "get": (AuditAction.CASE_LINK_LIST, "cases.case"),
        "post": (AuditAction.CASE_LINK_CREATE, "cases.case"),
    }
    scope = {
        "get": Scoped(selectors.case_link_list, kwarg="case_id"),
        "post": Fetch(selectors.case_get, "case_id", action=AuditAction.CASE_LINK_CREATE, for_write=True),
    }

    serializer_class = CaseLinkOutput
    queryset = CaseLink.objects.none()  # reads go through the selector; the schema knows the model
    pagination_class = None  # a case's few links at once

    @extend_schema(
        operation_id="cases_links_list",
        summary="Cases linked to this one (siblings, same family, same incident, possible duplicates)",
        description=(
            "The case's current links, oldest first; each names the other case (`case`: its id, "
            "reference and state). Links are symmetric: a link made from either case shows on both. "
            "A link to a case the caller may not see (a restricted case they are not on the "
            "need-to-know list of, another team's case for an operator) is left out altogether: "
            "the list never hints that such a case exists. Removed links are not listed; their "
            "removal stays in the case's history."
        ),
        responses={200: CaseLinkOutput(many=True)},
    )
    def get(self, request: Request, case_id: int) -> Response:
        return Response(CaseLinkOutput(self.scoped(), many=True).data)

    @extend_schema(
        operation_id="cases_links_create",
        summary="Link this case to another case of the helpline",
        description=(
            "`case` is the other case's id, `kind` one of `sibling`, `same_family`, "
            "`same_incident`, `possible_duplicate`. The caller must be able to see both cases: an "
            "id they cannot see (or of another helpline) answers 404, like an id that does not "
            "exist. 400 for a case linked to itself; 409 when the two cases already have a link of "
            "this kind (whichever of them it was made from). Both cases' histories record it."
        ),
        request=CaseLinkInput,
        responses={201: CaseLinkOutput, 403: ErrorResponse403Serializer, 409: ErrorResponse409Serializer},
        examples=[
            OpenApiExample(
                "Link a sibling's case", value={"case": 4812, "kind": "sibling"}, request_only=True
            )
        ],
    )
    def post(self, request: Request, case_id: int) -> Response:
        data = CaseLinkInput(data=request.data)
        data.is_valid(raise_exception=True)
        other = selectors.case_get(
            user=request.user,
            case_id=data.validated_data["case"],
            action=AuditAction.CASE_LINK_CREATE,
            for_write=True,
        )
        link = services.case_link_create(
            actor=request.user, case=self.object, other=other, kind=data.validated_data["kind"]
        )
        link.other = other
        return Response(CaseLinkOutput(link).data, status=status.HTTP_201_CREATED)


class CaseLinkDetailView(APIView):
    audit_actions = {"delete": (AuditAction.CASE_LINK_REMOVE, "cases.caselink")}
    scope = {"delete": Fetch(selectors.case_link_get, "link_id", action=AuditAction.CASE_LINK_REMOVE)}

    def audit_case_id(self) -> int | None:
        # A refusal after the link was reached is recorded on its (lower) case.
        return self.object.case_low_id if self.object is not None else None

    serializer_class = CaseLinkOutput

    @extend_schema(
        operation_id="case_links_remove",
        summary="Remove a link between two cases",
        description=(
            "Withdraws the link (its `id` from either case's links list). The link is not deleted: "
            "it stays on record with who removed it and when, and both cases' histories show the "
            "removal; it no longer shows in the links lists, and the same link may be made again. "
            "404 unless the caller can see both cases; 409 if the link was already removed."
        ),
        request=None,
        responses={204: None, 403: ErrorResponse403Serializer, 409: ErrorResponse409Serializer},
    )
    def delete(self, request: Request, link_id: int) -> Response:
        services.case_link_remove(actor=request.user, link=self.object)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CaseMergeView(APIView):
    audit_actions = {"post": (AuditAction.CASE_TRANSITION_MERGE, "cases.case")}
    scope = {
        "post": Fetch(selectors.case_get, "case_id", action=AuditAction.CASE_TRANSITION_MERGE, for_write=True)
    }

    serializer_class = CaseMergeInput

    @extend_schema(
        operation_id="cases_merge",
        summary="Merge this duplicate case into another case (supervisors)",
        description=(
            "For the same child's situation recorded twice. The case in the path (the duplicate) is "
            "closed for good, with `reason` as its closure reason and `merged_into` naming the case "
            "in `into` (the survivor), which carries on. Nothing is moved or deleted: the "
            "duplicate's contacts, notes, referrals and history stay on it and remain readable "
            "(`GET /api/v1/cases/{id}/` of the duplicate still works), and the survivor reads "
            "through it: its notes, `GET /api/v1/contacts/?case=` and its history include those of "
            "the cases merged into it, and `merged_cases` lists them. Both cases' histories record "
            "the merge. Only supervisors may merge (403 for others); an `into` the caller cannot "
            "see, or of another helpline, answers 404. 400 for a case merged into itself; 409 when "
            "either case is closed or anonymised, when the duplicate has a referral an agency may "
            "still be working on, or when the two cases are not restricted alike (the same "
            "need-to-know list). Answers the duplicate as it is now."
        ),
        request=CaseMergeInput,
        responses={200: CaseOutput, 403: ErrorResponse403Serializer, 409: ErrorResponse409Serializer},
        examples=[
            OpenApiExample(
                "Merge a duplicate",
                value={"into": 4812, "reason": "Same child, called twice the same evening."},
                request_only=True,
            )
        ],
    )
    def post(self, request: Request, case_id: int) -> Response:
        data = CaseMergeInput(data=request.data)
        data.is_valid(raise_exception=True)
        into = selectors.case_get(
            user=request.user,
            case_id=data.validated_data["into"],
            action=AuditAction.CASE_TRANSITION_MERGE,
            for_write=True,
        )
        case = services.case_merge(
            actor=request.user, case=self.object, into=into, reason=data.validated_data["reason"]
        )
        return Response(CaseOutput(case, context={"request": request}).data)
