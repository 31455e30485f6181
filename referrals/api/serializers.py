from rest_framework import serializers

from helpline.models import Helpline

from ..models import Agency, AgencyKind


class AgencyOutput(serializers.ModelSerializer):
    helpline = serializers.CharField(source="helpline.code")

    class Meta:
        model = Agency
        fields = ["id", "helpline", "code", "name", "kind", "is_active", "created_at"]
        read_only_fields = fields


class AgencyCreateInput(serializers.Serializer):
    code = serializers.SlugField(max_length=40)
    name = serializers.CharField(max_length=200)
    kind = serializers.ChoiceField(choices=AgencyKind.choices)
    helpline = serializers.PrimaryKeyRelatedField(
        queryset=Helpline.objects.all(), required=False, help_text="Platform administrators only."
    )


class AgencyUpdateInput(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    kind = serializers.ChoiceField(choices=AgencyKind.choices, required=False)
    is_active = serializers.BooleanField(required=False)
