from rest_framework import serializers

from ..models import Message


class MessageOutput(serializers.ModelSerializer):
    class Meta:
        model = Message
        fields = ["id", "case", "contact", "channel", "direction", "body", "at"]
        read_only_fields = fields
