"""What the exports API takes and answers (OpenAPI: /api/schema/)."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ..exports.services import export_progress
from ..models import Export, ExportDataset, ExportFormat, ExportMode
from .serializers import checked_period


class ExportRequestInput(serializers.Serializer):
    dataset = serializers.ChoiceField(choices=ExportDataset.choices, help_text="What to export.")
    file_format = serializers.ChoiceField(choices=ExportFormat.choices, help_text="The file's format.")
    mode = serializers.ChoiceField(
        choices=ExportMode.choices,
        default=ExportMode.PSEUDONYMISED,
        help_text="`pseudonymised` (the default): record ids and phone numbers as keyed hashes, no "
        "name, number, place or free text. `full`: everything the requester may read, decrypted; "
        "needs a `reason` and is flagged for the helpline's administrators to review.",
    )
    date_from = serializers.DateField(help_text="The period's first day, on the helpline's clock.")
    date_to = serializers.DateField(help_text="The period's last day, included, on the helpline's clock.")
    reason = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=2000,
        help_text="Why a full export is needed (required for one; kept encrypted, shown to reviewers).",
    )

    def validate(self, attrs):
        checked_period(attrs, too_long=_("An export covers at most %(days)d days."))
        if attrs["mode"] == ExportMode.FULL and not attrs.get("reason", "").strip():
            raise serializers.ValidationError(
                {"reason": [_("A full export needs a reason.")]}, code="reason_required"
            )
        return attrs


class ExportProgress(serializers.Serializer):
    rows = serializers.IntegerField(help_text="Rows written so far.")
    total = serializers.IntegerField(help_text="Rows the export will hold.")


class ExportOutput(serializers.ModelSerializer):
    requested_by = serializers.CharField(source="requested_by.username", read_only=True)
    reviewed_by = serializers.CharField(source="reviewed_by.username", read_only=True, allow_null=True)
    progress = serializers.SerializerMethodField(
        help_text="While the export is written: rows written and rows in all; null otherwise."
    )

    class Meta:
        model = Export
        fields = [
            "id",
            "dataset",
            "file_format",
            "mode",
            "reason",
            "date_from",
            "date_to",
            "state",
            "progress",
            "rows",
            "size",
            "error",
            "review",
            "requested_by",
            "requested_at",
            "started_at",
            "finished_at",
            "expires_at",
            "downloads",
            "reviewed_by",
            "reviewed_at",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "rows": {"help_text": "Rows in the file, once it is ready."},
            "size": {"help_text": "Bytes of the (encrypted) file, once it is ready."},
            "error": {
                "help_text": "Why it failed: `too_many_rows_for_xlsx` (use CSV or Parquet), "
                "`requester_not_allowed` (no longer a supervisor of the helpline), `failed` (see the "
                "logs)."
            },
            "reason": {"help_text": "Why a full export was asked for (empty for a pseudonymised one)."},
        }

    @extend_schema_field(ExportProgress(allow_null=True))
    def get_progress(self, export: Export) -> dict[str, int] | None:
        return export_progress(export)


class DictionaryColumn(serializers.Serializer):
    name = serializers.CharField()
    type = serializers.CharField(
        help_text="text, integer, boolean, time (helpline's clock, with offset) or list."
    )
    description = serializers.CharField()
    personal_data = serializers.CharField(help_text="The model's personal-data tag; empty if none.")
    pseudonymised = serializers.CharField(help_text="In a pseudonymised export: kept, rekeyed or left_out.")


class DictionaryDataset(serializers.Serializer):
    dataset = serializers.CharField()
    columns = DictionaryColumn(many=True)
