from rest_framework import serializers

from ..models import Message


class MessageOutput(serializers.ModelSerializer):
    class Meta:
        model = Message
        fields = ["id", "case", "contact", "channel", "direction", "body", "at", "status", "error_code"]
        read_only_fields = fields


class MessageInput(serializers.Serializer):
    body = serializers.CharField(max_length=1600)
