"""Reference labels: every registered vocabulary's codes with their labels in the caller's language
and their helpline's own wording (helpline.labels)."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from ..labels import labeller, vocabularies
from .base import APIView, Own


class LabelOutput(serializers.Serializer):
    code = serializers.CharField(read_only=True, help_text="Stored and answered by the API; never changes.")
    label = serializers.CharField(read_only=True, help_text="In the answer's language (Content-Language).")


def _vocabularies_output() -> type[serializers.Serializer]:
    fields = {name: LabelOutput(many=True, read_only=True) for name in vocabularies()}
    return type("VocabulariesOutput", (serializers.Serializer,), fields)


class VocabularyListView(APIView):
    scope = {"get": Own("the wording of the caller's own helpline")}

    @extend_schema(
        operation_id="vocabularies_list",
        summary="The labels of the API's codes, in the caller's language",
        description=(
            "Every vocabulary's codes (case states, risk levels, channels, call types, agency sectors, "
            "referral outcomes, escalation kinds...) with their labels in the answer's language "
            "(`Accept-Language`, else the caller's, else their helpline's) and the helpline's own "
            "wording where it has one (`label_overrides` of the helpline). The helpline's categories "
            "are at `/api/v1/categories/`."
        ),
        responses=_vocabularies_output(),
    )
    def get(self, request: Request) -> Response:
        labels = labeller(request.user.helpline if request.user.helpline_id else None)
        return Response({name: labels.choices(name) for name in vocabularies()})
