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
