import time

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_otp.admin import OTPAdminSite
from django_otp.plugins.otp_totp.admin import TOTPDeviceAdmin as BaseTOTPDeviceAdmin
from django_otp.plugins.otp_totp.models import TOTPDevice

from .audit import audit_record
from .models import AuditEntry, Helpline, Team, User
from .sign_in import session_active, session_idle, session_logout, session_seen
from .throttles import SignInThrottle
from .vocabulary import AuditAction


class AdminSite(OTPAdminSite):
    """The Django admin site with the second factor (django-otp: otherwise it would be a way around
    two-factor sign-in) and the console's idle timeout (`CONSOLE_IDLE_MINUTES`): a browser left
    signed in is signed out here as it is in the console, whichever of the two it was left on."""

    def has_permission(self, request: HttpRequest) -> bool:
        if not super().has_permission(request):
            return False
        now = time.time()
        if session_idle(request, now=now):
            session_logout(request=request, idle=True)  # on record; the admin shows its sign-in
            return False
        session_active(request, now=now)
        return True

    def login(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        """Django's admin sign-in, with the console's rules around it: a browser left idle is
        signed out before the form (so a post cannot restart its clock), attempts count against
        the address with the console's and the API's (helpline.throttles), and a sign-in starts the
        idle clock and is on record like theirs."""
        if request.user.is_authenticated and session_idle(request, now=time.time()):
            session_logout(request=request, idle=True)
        if request.method == "POST":
            throttle = SignInThrottle()
            if not throttle.allow_request(request, None):
                refused = HttpResponse(
                    _("Too many sign-in attempts from this address: wait a minute and try again."),
                    status=429,
                    content_type="text/plain; charset=utf-8",
                )
                refused["Retry-After"] = str(max(1, round(throttle.wait() or 1)))
                return refused
        before = request.session.session_key
        answer = super().login(request, extra_context)
        # Signed in by this request: Django's login() renews the session's key.
        if (
            request.method == "POST"
            and answer.status_code == 302
            and request.user.is_authenticated
            and request.session.session_key != before
        ):
            session_seen(request)
            with transaction.atomic():
                audit_record(
                    actor=request.user,
                    action=AuditAction.AUTH_LOGIN,
                    obj=request.user,
                    extra={"session": True, "admin_site": True, "second_factor": True},
                )
        return answer


@admin.register(Helpline)
class HelplineAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "country", "timezone", "is_active")


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("name", "helpline")
    list_filter = ("helpline",)


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    """No password here: nobody sets or sees another person's password. People are created, and
    their passwords reset, through the API, which issues a set-password link the person uses
    themselves (audited and flagged for review)."""

    list_display = ("username", "role", "helpline", "team", "is_active")
    list_filter = ("role", "helpline", "is_active")
    form = forms.ModelForm  # not UserChangeForm: no password field, no link to a password form
    fieldsets = (
        (None, {"fields": ("username",)}),
        *BaseUserAdmin.fieldsets[1:],
        (gettext_lazy("Helpline"), {"fields": ("role", "helpline", "team")}),
    )
    # A role and the agency an agency user works for change together, through the API's users
    # service (referrals.AgencyMembership; the database refuses one without the other).
    readonly_fields = ("role",)

    def has_add_permission(self, request):
        return False

    def user_change_password(self, request, id, form_url=""):
        raise PermissionDenied


# The authenticator app's secret is the person's alone: the admin site lists devices, never their
# keys or QR codes, and neither adds nor edits them (people enrol their own; an administrator
# resets one through the API, audited).
admin.site.unregister(TOTPDevice)


@admin.register(TOTPDevice)
class TOTPDeviceAdmin(BaseTOTPDeviceAdmin):
    list_display = ["user", "name", "created_at", "last_used_at", "confirmed"]
    fields = ["user", "name", "confirmed", "created_at", "last_used_at"]
    readonly_fields = fields

    def get_list_display(self, request):
        return self.list_display

    def get_fieldsets(self, request, obj=None):
        return [(None, {"fields": self.fields})]

    def get_urls(self):
        # Without the base class's QR code view.
        return admin.ModelAdmin.get_urls(self)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


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
