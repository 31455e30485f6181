"""Contacts: the list, a contact, attaching a contact to a case."""

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework.request import Request
from rest_framework.response import Response

from helpline.api.base import APIView, Fetch, Scoped
from helpline.api.schema import ErrorResponse409Serializer
from helpline.vocabulary import AuditAction

from .. import selectors, services
from ..models import Contact
from .pages import PaginatedView
from .serializers import (
    ContactAttachInput,
    ContactOutput,
    ContactUpdateInput,
)


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
