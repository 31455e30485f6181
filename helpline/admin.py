from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from .models import AuditEntry, Helpline, Team, User


@admin.register(Helpline)
class HelplineAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "country", "timezone", "is_active")


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("name", "helpline")
    list_filter = ("helpline",)


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "role", "helpline", "team", "agency", "is_active")
    list_filter = ("role", "helpline", "is_active")
    fieldsets = (*BaseUserAdmin.fieldsets, ("Helpline", {"fields": ("role", "helpline", "team", "agency")}))


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Read-only: the database refuses changes to audit rows anyway."""

    list_display = ("at", "actor_username", "actor_role", "action", "object_type", "object_id", "outcome")
    list_filter = ("action", "outcome", "actor_role")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
