from django.contrib import admin

from .models import Case, Category, Escalation


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ("code", "label", "parent_code", "helpline", "is_hidden")
    list_filter = ("helpline", "is_hidden")


@admin.register(Case)
class CaseAdmin(admin.ModelAdmin):
    """Metadata only: case content is read through the audited API, not the admin site."""

    list_display = ("reference", "helpline", "state", "risk_level", "next_action_due_at", "restricted")
    list_filter = ("helpline", "state", "risk_level")
    fields = (
        "reference",
        "helpline",
        "state",
        "risk_level",
        "next_action_due_at",
        "restricted",
        "created_at",
    )
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Escalation)
class EscalationAdmin(admin.ModelAdmin):
    list_display = ("case", "due_at", "state", "risk_level", "acknowledged_at")
