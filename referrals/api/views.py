"""Thin HTTP views for agencies, consent and referrals: parse, call one service or selector, render.

Staff and agency users share the referral endpoints; the selectors scope what each sees and the
output differs (an agency gets the frozen packet, never the case)."""

from django.utils.translation import gettext as _
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiResponse, PolymorphicProxySerializer, extend_schema
from drf_standardized_errors.openapi_serializers import ErrorResponse403Serializer
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from cases import selectors as case_selectors
from helpline import policy
from helpline.api.base import APIView, Fetch, NoObject, Scoped
from helpline.api.schema import ErrorResponse409Serializer, TransitionConflictResponseSerializer
from helpline.vocabulary import AuditAction, PolicyAction

from .. import selectors, services, webhooks
from ..models import Agency, Consent, Delivery, Referral, ReferralUpdate
from . import examples
from .serializers import (
    AgencyCreateInput,
    AgencyOutput,
    AgencyReferralDetailOutput,
    AgencyReferralOutput,
    AgencyUpdateInput,
    ConsentInput,
    ConsentOutput,
    DeliveryOutput,
    ReferralCompleteInput,
    ReferralCreatedOutput,
    ReferralCreateInput,
    ReferralDetailOutput,
    ReferralOutput,
    ReferralRejectInput,
    ReferralResendInput,
    ReferralTransitionInput,
    ReferralUpdateInput,
    ReferralUpdateOutput,
    ReferralWithdrawInput,
    WebhookApproveInput,
)

REFERRAL_ANY = PolymorphicProxySerializer(
    component_name="ReferralForCaller",
    serializers=[ReferralOutput, AgencyReferralOutput],
    resource_type_field_name=None,
)
REFERRALS_ANY = PolymorphicProxySerializer(
    component_name="ReferralForCaller",
    serializers=[ReferralOutput, AgencyReferralOutput],
    resource_type_field_name=None,
    many=True,
)
REFERRAL_DETAIL_ANY = PolymorphicProxySerializer(
    component_name="ReferralDetailForCaller",
    serializers=[ReferralDetailOutput, AgencyReferralDetailOutput],
    resource_type_field_name=None,
)


def _output(request: Request, *, detail: bool = False) -> type:
    """The staff's view of referrals (with the case) for those who may see the referrals of cases,
    else an agency's view (the packet only)."""
    if policy.can(request.user, PolicyAction.REFERRAL_LIST_OF_VISIBLE_CASES):
        return ReferralDetailOutput if detail else ReferralOutput
    return AgencyReferralDetailOutput if detail else AgencyReferralOutput


def _render(request: Request, referral: Referral, *, detail: bool = False) -> dict:
    return _output(request, detail=detail)(referral, context={"request": request}).data


# --- agencies ---------------------------------------------------------------------------------------


class AgencyListView(APIView):
    audit_actions = {
        "get": (AuditAction.AGENCY_LIST, "referrals.agency"),
        "post": (AuditAction.AGENCY_CREATE, "referrals.agency"),
    }
    scope = {
        "get": Scoped(selectors.agency_queryset_for),
        "post": NoObject("registers an agency; its input's helpline is scoped by its field"),
    }
    serializer_class = AgencyOutput
    queryset = Agency.objects.none()  # reads go through selectors; this only fails closed

    @extend_schema(
        operation_id="agencies_list",
        description=(
            "Administrators see the agencies of their helplines (inactive ones included); operators and"
            " supervisors see their helpline's active agencies, to refer to; an agency user sees only "
            "its own agency. Filter and page as usual."
        ),
        summary="Partner agencies the caller may see",
        responses=AgencyOutput(many=True),
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.scoped())
        return self.get_paginated_response(AgencyOutput(page, many=True).data)

    @extend_schema(
        operation_id="agencies_create",
        description=(
            "Administrators register a partner agency of one of their helplines: its sector (police, "
            "health, social...), country, areas served and how it is notified. A webhook URL and secret"
            " take effect only after a supervisor approves them (`POST "
            "/api/v1/agencies/{id}/webhook/approve/`). 403 for other roles."
        ),
        summary="Register a partner agency (administrators)",
        request=AgencyCreateInput,
        responses={201: AgencyOutput, 403: ErrorResponse403Serializer},
    )
    def post(self, request: Request) -> Response:
        data = AgencyCreateInput(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        helpline = fields.pop("helpline", None) or request.user.helpline
        if helpline is None:
            raise ValidationError({"helpline": _("Platform administrators name the helpline.")})
        agency = services.agency_create(actor=request.user, helpline=helpline, **fields)
        return Response(AgencyOutput(agency).data, status=status.HTTP_201_CREATED)


class AgencyDetailView(APIView):
    audit_actions = {
        "get": (AuditAction.AGENCY_READ, "referrals.agency"),
        "patch": (AuditAction.AGENCY_UPDATE, "referrals.agency"),
    }
    scope = {
        "get": Fetch(selectors.agency_get, "agency_id"),
        "patch": Fetch(selectors.agency_get, "agency_id"),
    }
    serializer_class = AgencyOutput

    @extend_schema(
        operation_id="agencies_retrieve",
        summary="Read one partner agency",
        description=(
            "One agency as the caller may see it: staff of its helpline, its administrators, or the "
            "agency's own users. 404 for an agency outside the caller's scope."
        ),
    )
    def get(self, request: Request, agency_id: int) -> Response:
        return Response(AgencyOutput(self.object).data)

    @extend_schema(
        operation_id="agencies_partial_update",
        summary="Change a partner agency (administrators)",
        description=(
            "Administrators change an agency's name, sector, areas served, notification contacts or "
            "deactivate it. A new `webhook_url` or `webhook_secret` is kept waiting in "
            "`webhook_changes` until a supervisor approves it. 403 for other roles, 404 outside the "
            "caller's helplines."
        ),
        request=AgencyUpdateInput,
        responses={200: AgencyOutput, 403: ErrorResponse403Serializer},
    )
    def patch(self, request: Request, agency_id: int) -> Response:
        data = AgencyUpdateInput(instance=self.object, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        agency = services.agency_update(actor=request.user, agency=self.object, **data.validated_data)
        return Response(AgencyOutput(agency).data)


class AgencyWebhookApproveView(APIView):
    audit_actions = {"post": (AuditAction.AGENCY_APPROVE_WEBHOOK, "referrals.agency")}
    scope = {"post": Fetch(selectors.agency_get, "agency_id")}
    serializer_class = WebhookApproveInput
    queryset = Agency.objects.none()

    @extend_schema(
        operation_id="agencies_webhook_approve",
        summary="Approve a change of the agency's webhook URL or secret (supervisors)",
        description=(
            "An administrator's change of `webhook_url` or `webhook_secret` waits in "
            "`webhook_changes` until a supervisor of the agency's helpline (not the proposer) "
            "approves it here. Lifeline then POSTs a signed verification challenge to the new "
            "endpoint; the change takes effect (becomes `webhook_url`) once the endpoint echoes it. "
            "If it does not, the change stays `approved` with the outcome in `verification`: ask "
            "again to send a new challenge. 409 `webhook_change_not_waiting` for a change that is "
            "no longer waiting (superseded or already in use)."
        ),
        request=WebhookApproveInput,
        responses={200: AgencyOutput, 403: ErrorResponse403Serializer, 409: ErrorResponse409Serializer},
    )
    def post(self, request: Request, agency_id: int) -> Response:
        data = WebhookApproveInput(data=request.data)
        data.is_valid(raise_exception=True)
        webhooks.webhook_change_approve(
            actor=request.user, agency=self.object, change_id=data.validated_data["change"]
        )
        # Read again through the same selector: the approval changed the row.
        return Response(AgencyOutput(selectors.agency_get(user=request.user, agency_id=agency_id)).data)


# --- consent and referrals of a case ----------------------------------------------------------------


class CaseConsentView(APIView):
    audit_actions = {
        "get": (AuditAction.CONSENT_LIST, "cases.case"),
        "post": (AuditAction.CONSENT_RECORD, "cases.case"),
    }
    scope = {
        "get": Fetch(case_selectors.case_get, "case_id", action=AuditAction.CONSENT_LIST),
        "post": Fetch(case_selectors.case_get, "case_id", action=AuditAction.CONSENT_RECORD, for_write=True),
    }
    serializer_class = ConsentOutput
    queryset = Consent.objects.none()
    pagination_class = None  # all of a case's consent records at once

    @extend_schema(
        operation_id="cases_consent_list",
        description=(
            "Every consent record of the case (who gave it, for what scope), newest first; the newest "
            "not withdrawn is the one that counts for referrals. Staff who may see the case."
        ),
        summary="The consent records of a case, newest first (the first without withdrawn_at counts)",
        responses=ConsentOutput(many=True),
    )
    def get(self, request: Request, case_id: int) -> Response:
        return Response(ConsentOutput(selectors.case_consents(case=self.object), many=True).data)

    @extend_schema(
        operation_id="cases_consent_record",
        description=(
            "Records the consent the child or carer gave: for referral, and which parts of the case may"
            " be shared with an agency (scope). A referral's packet carries only what the consent "
            "covers. Operators and supervisors; 404 outside the caller's scope."
        ),
        summary="Record the consent given for referral and information sharing",
        request=ConsentInput,
        responses={201: ConsentOutput, 403: ErrorResponse403Serializer},
    )
    def post(self, request: Request, case_id: int) -> Response:
        data = ConsentInput(data=request.data)
        data.is_valid(raise_exception=True)
        consent = services.consent_record(actor=request.user, case=self.object, **data.validated_data)
        return Response(ConsentOutput(consent).data, status=status.HTTP_201_CREATED)


class CaseReferralsView(APIView):
    audit_actions = {
        "get": (AuditAction.REFERRAL_LIST, "cases.case"),
        "post": (AuditAction.REFERRAL_CREATE, "cases.case"),
    }
    scope = {
        "get": Fetch(case_selectors.case_get, "case_id", action=AuditAction.REFERRAL_LIST),
        "post": Fetch(case_selectors.case_get, "case_id", action=AuditAction.REFERRAL_CREATE, for_write=True),
    }
    serializer_class = ReferralOutput
    queryset = Referral.objects.none()
    pagination_class = None  # all of a case's referrals at once

    @extend_schema(
        operation_id="cases_referrals_list",
        description=(
            "A case's referrals, newest first, each with its agency, state and the agency's progress "
            "updates. Staff who may see the case; 404 otherwise."
        ),
        summary="The referrals of a case, newest first, with the agencies' progress updates",
        responses=ReferralDetailOutput(many=True),
    )
    def get(self, request: Request, case_id: int) -> Response:
        referrals = selectors.case_referrals(case=self.object)
        return Response(ReferralDetailOutput(referrals, many=True, context={"request": request}).data)

    @extend_schema(
        operation_id="cases_referrals_create",
        examples=examples.REFERRAL_CREATE,
        summary="Refer the child to a partner agency",
        description=(
            "Only on cases in assessment, referral or follow-up (else 409 `case_not_referable`). "
            "Without a recorded consent covering `referral`: 409 `consent_required`, unless a "
            "supervisor gives `override_reason`, or the urgency is `emergency` to a police or health "
            "agency (vital interests; the supervisors are alerted at once). An agency in another "
            "country than the helpline waits in `awaiting_approval` until a supervisor approves. "
            "When the packet would leave the agency nothing its sector needs to act on (the consent "
            "does not cover `information_sharing`, so the child's name, place and contact are left "
            "out; or the case has none recorded), the referral is made all the same and the answer's "
            "`warnings` carries `packet_not_actionable`, with the fields the sector needs: the "
            "operator can record a wider consent and re-send, or withdraw the referral."
        ),
        request=ReferralCreateInput,
        responses={
            201: ReferralCreatedOutput,
            403: ErrorResponse403Serializer,
            409: ErrorResponse409Serializer,
        },
    )
    def post(self, request: Request, case_id: int) -> Response:
        data = ReferralCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        agency = selectors.referable_agency_get(user=request.user, agency_id=fields.pop("agency"))
        if agency is None:
            raise ValidationError({"agency": _("Unknown or inactive agency.")})
        referral = services.referral_create(actor=request.user, case=self.object, agency=agency, **fields)
        return Response(
            ReferralCreatedOutput(referral, context={"request": request}).data, status=status.HTTP_201_CREATED
        )


# --- the referral endpoints staff and agencies share -----------------------------------------------


class ReferralListView(APIView):
    audit_actions = {"get": (AuditAction.REFERRAL_LIST, "referrals.referral")}
    scope = {"get": Scoped(selectors.referral_list)}
    serializer_class = ReferralOutput
    queryset = Referral.objects.none()
    filter_backends = [DjangoFilterBackend]
    filterset_class = selectors.ReferralFilter

    @extend_schema(
        operation_id="referrals_list",
        examples=examples.REFERRALS_LIST,
        description=(
            "For an agency user: the referrals sent to their agency (the frozen packet, never the "
            "case). For helpline staff: the referrals of the cases they may see. Filters `state`, "
            "`urgency`, `received_after`, `received_before`, `case`; newest first; cursor pagination."
        ),
        summary="Referrals the caller may see: an agency's received referrals, staff's within scope",
        responses=REFERRALS_ANY,
    )
    def get(self, request: Request) -> Response:
        referral_filter = selectors.ReferralFilter(data=request.query_params, queryset=self.scoped())
        if not referral_filter.is_valid():
            raise ValidationError(referral_filter.errors)
        page = self.paginate_queryset(referral_filter.qs)
        selectors.record_referral_list_read(
            user=request.user,
            referrals=page,
            filters={k: request.query_params.getlist(k) for k in request.query_params},
        )
        # One serializer for the page: building one per row costs more than the rows themselves.
        rows = _output(request)(page, many=True, context={"request": request}).data
        return self.get_paginated_response(rows)


class ReferralDetailView(APIView):
    audit_actions = {"get": (AuditAction.REFERRAL_READ, "referrals.referral")}
    scope = {"get": Fetch(selectors.referral_get, "referral_id")}
    serializer_class = ReferralDetailOutput
    queryset = Referral.objects.none()

    @extend_schema(
        operation_id="referrals_retrieve",
        summary="Read one referral",
        description=(
            "An agency user reads a referral sent to their agency: the frozen packet the consent "
            "allowed, the urgency and `available_transitions`. Staff read it with its case and delivery"
            " state. 404 for a referral outside the caller's scope."
        ),
        responses=REFERRAL_DETAIL_ANY,
    )
    def get(self, request: Request, referral_id: int) -> Response:
        return Response(_render(request, self.object, detail=True))


def _transition_view(name: str, input_serializer, summary: str, description: str, examples=()):
    class ReferralTransitionView(APIView):
        audit_actions = {"post": (AuditAction(f"referral.{name}"), "referrals.referral")}
        scope = {
            "post": Fetch(
                selectors.referral_get, "referral_id", action=AuditAction(f"referral.{name}"), for_write=True
            )
        }
        serializer_class = input_serializer
        queryset = Referral.objects.none()

        @extend_schema(
            operation_id=f"referrals_{name}",
            summary=summary,
            description=description,
            request=input_serializer,
            examples=list(examples),
            responses={
                200: REFERRAL_ANY,
                403: ErrorResponse403Serializer,
                409: OpenApiResponse(TransitionConflictResponseSerializer),
            },
        )
        def post(self, request: Request, referral_id: int) -> Response:
            data = input_serializer(data=request.data)
            data.is_valid(raise_exception=True)
            params = dict(data.validated_data)
            referral = services.referral_transition(
                actor=request.user, referral=self.object, name=name, **params
            )
            return Response(_render(request, referral))

    ReferralTransitionView.__name__ = f"Referral{name.title()}View"
    ReferralTransitionView.__qualname__ = ReferralTransitionView.__name__
    return ReferralTransitionView


ReferralAcceptView = _transition_view(
    "accept",
    ReferralTransitionInput,
    "Accept a referral (the agency)",
    (
        "The agency accepts a referral sent to it (state `sent`; send `expected_state` to act only "
        "if it still is): the helpline sees it at once. 409 when the referral cannot be accepted "
        "from its state (the answer lists `available_transitions`), 403 for helpline staff, 404 "
        "for another agency's referral."
    ),
    examples.ACCEPT,
)
ReferralRejectView = _transition_view(
    "reject",
    ReferralRejectInput,
    "Reject a referral, with the reason (the agency)",
    (
        "The agency declines a referral with a `reason` (stored encrypted); the helpline is told "
        "and may resend it to another agency. 409 when the referral cannot be rejected from its "
        "state (the answer lists `available_transitions`), 403 for helpline staff, 404 for another "
        "agency's referral."
    ),
    examples.REJECT,
)
ReferralCompleteView = _transition_view(
    "complete",
    ReferralCompleteInput,
    "Complete an accepted referral with its outcome (the agency)",
    (
        "The agency closes an accepted referral with its `outcome` (and a note): the helpline sees "
        "the outcome on the case. 409 when the referral is not accepted (the answer lists "
        "`available_transitions`), 403 for helpline staff, 404 for another agency's referral."
    ),
    examples.COMPLETE,
)
ReferralWithdrawView = _transition_view(
    "withdraw",
    ReferralWithdrawInput,
    "Withdraw a referral, with the reason (helpline staff)",
    (
        "Helpline staff withdraw a referral with a `reason`; the agency is notified. 409 when the "
        "referral cannot be withdrawn from its state (the answer lists `available_transitions`), "
        "403 for agency users, 404 outside the caller's scope."
    ),
)
ReferralApproveView = _transition_view(
    "approve",
    ReferralTransitionInput,
    "Approve and send a cross-border referral (supervisors)",
    (
        "A supervisor approves a cross-border referral waiting in `awaiting_approval`: it is then "
        "sent to the agency. 409 when the referral is not waiting (the answer lists "
        "`available_transitions`), 403 for other roles, 404 outside the caller's scope."
    ),
)


class ReferralUpdatesView(APIView):
    audit_actions = {
        "get": (AuditAction.REFERRAL_UPDATES, "referrals.referral"),
        "post": (AuditAction.REFERRAL_POST_UPDATE, "referrals.referral"),
    }
    scope = {
        "get": Fetch(selectors.referral_get, "referral_id", action=AuditAction.REFERRAL_UPDATES),
        "post": Fetch(
            selectors.referral_get, "referral_id", action=AuditAction.REFERRAL_POST_UPDATE, for_write=True
        ),
    }
    serializer_class = ReferralUpdateOutput
    queryset = ReferralUpdate.objects.none()
    pagination_class = None  # all of a referral's updates at once

    @extend_schema(
        operation_id="referrals_updates_list",
        summary="A referral's progress updates, oldest first",
        description=(
            "The updates the agency and the helpline posted on a referral. The agency of the referral "
            "and staff who may see its case; 404 otherwise."
        ),
        responses=ReferralUpdateOutput(many=True),
    )
    def get(self, request: Request, referral_id: int) -> Response:
        updates = selectors.referral_updates(referral=self.object)
        return Response(ReferralUpdateOutput(updates, many=True).data)

    @extend_schema(
        operation_id="referrals_updates_create",
        examples=examples.UPDATE_CREATE,
        description=(
            "An agency posts progress on a referral it accepted; helpline staff post a change the "
            "agency should know. 409 `referral_not_open_for_updates` when the referral is not accepted,"
            " 404 outside the caller's scope."
        ),
        summary="Post a progress update (agency, on accepted referrals) or a change for the agency (staff)",
        request=ReferralUpdateInput,
        responses={
            201: ReferralUpdateOutput,
            403: ErrorResponse403Serializer,
            409: ErrorResponse409Serializer,
        },
    )
    def post(self, request: Request, referral_id: int) -> Response:
        data = ReferralUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        update = services.referral_update_post(
            actor=request.user, referral=self.object, **data.validated_data
        )
        return Response(ReferralUpdateOutput(update).data, status=status.HTTP_201_CREATED)


class ReferralResendView(APIView):
    audit_actions = {"post": (AuditAction.REFERRAL_RESEND, "referrals.referral")}
    scope = {
        "post": Fetch(
            selectors.referral_get, "referral_id", action=AuditAction.REFERRAL_RESEND, for_write=True
        )
    }
    serializer_class = ReferralResendInput
    queryset = Referral.objects.none()

    @extend_schema(
        operation_id="referrals_resend",
        description=(
            "Helpline staff send an expired or rejected referral to another agency: a new referral with"
            " a new packet, linked to the old one. 409 `referral_not_resendable` or "
            "`referral_already_resent`; 404 outside the caller's scope.\n\n"
            "A new referral to another agency, with the same case, reason and summary, under the "
            "case's consent as it is now. Its `warnings` are those of a new referral "
            "(`packet_not_actionable` when the packet holds nothing the new agency's sector needs)."
        ),
        summary="Send an expired or rejected referral to another agency (helpline staff)",
        request=ReferralResendInput,
        responses={
            201: ReferralCreatedOutput,
            403: ErrorResponse403Serializer,
            409: ErrorResponse409Serializer,
        },
    )
    def post(self, request: Request, referral_id: int) -> Response:
        data = ReferralResendInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        agency = selectors.referable_agency_get(user=request.user, agency_id=fields.pop("agency"))
        if agency is None:
            raise ValidationError({"agency": _("Unknown or inactive agency.")})
        new = services.referral_resend(actor=request.user, referral=self.object, agency=agency, **fields)
        return Response(
            ReferralCreatedOutput(new, context={"request": request}).data, status=status.HTTP_201_CREATED
        )


class ReferralDeliveriesView(APIView):
    audit_actions = {"get": (AuditAction.REFERRAL_DELIVERIES, "referrals.referral")}
    scope = {"get": Scoped(selectors.referral_deliveries, kwarg="referral_id")}
    serializer_class = DeliveryOutput
    queryset = Delivery.objects.none()
    pagination_class = None  # all of a referral's notifications at once

    @extend_schema(
        operation_id="referrals_deliveries_list",
        description=(
            "Each webhook notification sent to the agency about this referral, with every attempt's "
            "status and time: to see whether the agency was reached. The referral's agency and staff "
            "who may see its case; 403 for others who may see the referral."
        ),
        summary="Every notification sent to the agency about this referral, with each attempt",
        responses={200: DeliveryOutput(many=True), 403: ErrorResponse403Serializer},
    )
    def get(self, request: Request, referral_id: int) -> Response:
        deliveries = self.scoped()
        return Response(DeliveryOutput(deliveries, many=True).data)
