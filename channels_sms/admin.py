from django.contrib import admin

from .models import InboundEvent, PhoneNumber


@admin.register(PhoneNumber)
class PhoneNumberAdmin(admin.ModelAdmin):
    list_display = ("number", "channel", "helpline", "is_active")
    list_filter = ("helpline", "channel", "is_active")
    fields = ("helpline", "channel", "number", "acknowledgement", "is_active")


@admin.register(InboundEvent)
class InboundEventAdmin(admin.ModelAdmin):
    """Metadata only: bodies and senders are read through the audited case API, not here."""

    list_display = ("external_id", "kind", "channel", "helpline", "received_at", "processed_at", "attempts")
    list_filter = ("helpline", "kind", "channel")
    fields = ("external_id", "kind", "channel", "helpline", "received_at", "processed_at", "attempts")
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


# --- voice (issue #4, voice part) ------------------------------------------------------------------

from .models import Callback, VoiceRoute  # noqa: E402


@admin.register(VoiceRoute)
class VoiceRouteAdmin(admin.ModelAdmin):
    """How a voice number answers: greeting, emergency digit, queue or the on-duty numbers."""

    list_display = ("number", "mode", "queue_name", "emergency_digit")
    fields = ("number", "greeting", "emergency_digit", "mode", "queue_name", "dial_numbers")


@admin.register(Callback)
class CallbackAdmin(admin.ModelAdmin):
    """Metadata only: operators work the queue through the audited API."""

    list_display = ("id", "helpline", "reason", "requested_at", "done_at")
    list_filter = ("helpline", "reason")
    fields = ("helpline", "case", "contact", "reason", "requested_at", "done_at", "done_by")
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
