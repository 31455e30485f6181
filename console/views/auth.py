"""Signing in and out of the console, and the person's language."""

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import ValidationError

from helpline import services
from helpline.i18n import language_codes
from helpline.throttles import SignInThrottle

from ..base import ConsoleView, NoObject, Own, Refused
from ..navigation import home_of

SIGN_IN_REFUSED = {
    "invalid_credentials": (401, _("Unable to sign in with this username and password.")),
    "otp_required": (
        401,
        _("Supervisors and administrators also give the authentication code of their app."),
    ),
    "otp_invalid": (401, _("The authentication code is wrong, expired or already used.")),
    "otp_not_configured": (
        401,
        _(
            "You need an authenticator app before you can sign in: ask an administrator to set "
            "one up with you."
        ),
    ),
    "locked_out": (429, _("Too many failed attempts: signing in is locked for 30 minutes.")),
}
TOO_MANY_ATTEMPTS = _("Too many sign-in attempts from this address: wait a minute and try again.")


class SignInView(ConsoleView):
    template_name = "console/sign_in.html"
    public = True
    scope = {
        "get": NoObject("the sign-in form"),
        "post": NoObject("signing in: the credentials in the form are the caller"),
    }
    fields = {"post": frozenset({"username", "password", "otp"})}
    query_fields = frozenset({"idle", "password"})

    def get(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated and (
            not services.second_factor_required(request.user) or request.user.is_verified()
        ):
            return HttpResponseRedirect(home_of(request.user))
        return self.render(
            {"idle": request.GET.get("idle") == "1", "password_set": request.GET.get("password") == "1"}
        )

    def post(self, request: HttpRequest) -> HttpResponse:
        username = request.POST.get("username", "").strip()[:150]
        password = request.POST.get("password", "")
        otp = request.POST.get("otp", "").strip()[:16]
        throttle = SignInThrottle()
        if not throttle.allow_request(request, self):
            # Counted with the API's sign-in from the same address (helpline.throttles).
            answer = self.render({"username": username, "error": TOO_MANY_ATTEMPTS}, status=429)
            answer["Retry-After"] = str(max(1, round(throttle.wait() or 1)))
            return answer
        if not username or not password:
            return self.render(
                {"username": username, "error": _("Enter your username and password.")}, status=400
            )
        try:
            user = services.session_login(username=username, password=password, otp=otp, request=request)
        except services.LoginLockedOut:
            status, message = SIGN_IN_REFUSED["locked_out"]
            return self.render({"username": username, "error": message}, status=status)
        except services.LoginFailed as refused:
            status, message = SIGN_IN_REFUSED[refused.reason]
            return self.render({"username": username, "error": message}, status=status)
        return HttpResponseRedirect(home_of(user))


class SignOutView(ConsoleView):
    scope = {"post": Own("signing out ends the caller's own session")}
    fields = {"post": frozenset()}

    def post(self, request: HttpRequest) -> HttpResponse:
        services.session_logout(request=request)
        return HttpResponseRedirect(reverse("console:sign-in"))


class LanguageView(ConsoleView):
    """The person's own language, kept on their account (audited), as `PATCH /api/v1/auth/me/`."""

    scope = {"post": Own("a person changes only their own language")}
    fields = {"post": frozenset({"language", "back"})}

    def post(self, request: HttpRequest) -> HttpResponse:
        language = request.POST.get("language", "")
        if language not in language_codes():
            raise Refused(400, [str(_("Choose one of the languages offered."))], {"language": []})
        try:
            services.own_language_set(user=request.user, language=language)
        except ValidationError as exc:
            raise Refused(400, [str(m) for m in exc.detail]) from None
        back = request.POST.get("back", "")
        # Only a path of the console itself (never another site).
        if not back.startswith("/console/") or "//" in back:
            back = home_of(request.user)
        return HttpResponseRedirect(back)


class AccountView(ConsoleView):
    """Who is signed in, their role and language (switchable)."""

    template_name = "console/account.html"
    scope = {"get": Own("the person's own account")}

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.render({})


class HomeView(ConsoleView):
    scope = {"get": NoObject("sends the person to their role's first page")}

    def get(self, request: HttpRequest) -> HttpResponse:
        return HttpResponseRedirect(home_of(request.user))


LINK_REFUSED = {
    "invalid": _("This set-password link is not valid."),
    "used": _("This set-password link has been used already; ask an administrator for a new one."),
    "revoked": _("A newer set-password link replaced this one."),
    "expired": _("This set-password link has expired; ask an administrator for a new one."),
}


class PasswordView(ConsoleView):
    """The holder of a set-password link chooses their password (as `POST /api/v1/auth/password/`).
    The link carries its token after `#`, which browsers never send: console.js moves it into the
    form's code field and takes it off the address, so no server or proxy log ever holds it."""

    template_name = "console/password.html"
    public = True
    scope = {
        "get": NoObject("the set-password form"),
        "post": NoObject("the link's token in the form is the caller's credential"),
    }
    fields = {"post": frozenset({"token", "password", "password_again"})}

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.render({})

    def post(self, request: HttpRequest) -> HttpResponse:
        from django.core.exceptions import ValidationError as PasswordRefused

        token = request.POST.get("token", "").strip()[:200]
        password = request.POST.get("password", "")
        if not token:
            return self.render({"error": LINK_REFUSED["invalid"]}, status=400)
        if password != request.POST.get("password_again", ""):
            return self.render({"error": _("The two passwords differ.")}, status=400)
        try:
            services.password_set_with_link(token=token, password=password)
        except services.LinkRefused as refused:
            return self.render({"error": LINK_REFUSED[refused.reason]}, status=400)
        except (PasswordRefused, ValidationError) as refused:
            problems = refused.messages if hasattr(refused, "messages") else [str(m) for m in refused.detail]
            return self.render({"problems": problems}, status=400)
        return HttpResponseRedirect(reverse("console:sign-in") + "?password=1")
