"""The web console (console/, issue #17): its session, idle timeout and Content-Security-Policy.

The console is server-rendered (Django templates, htmx from the django-htmx package): no inline
script or style anywhere, so the policy below allows only our own origin. The API keeps its tokens;
the console signs people in with a session cookie that scripts cannot read."""

from csp.constants import NONE, SELF

from .environment import env

# Signed out after this many minutes without a person's own action (the queue's automatic refresh
# does not count: console.base).
CONSOLE_IDLE_MINUTES = env.int("CONSOLE_IDLE_MINUTES", default=15)
# How often the live parts of a page (queue, conversation, inbox) ask for news, in seconds.
CONSOLE_POLL_SECONDS = env.int("CONSOLE_POLL_SECONDS", default=5)

# The session ends with the browser, and at the latest a working day after sign-in.
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_AGE = 12 * 3600
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_NAME = "lifeline_session"
# htmx sends the token in a header taken from the page (console/base.html), never from the cookie.
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_FAILURE_VIEW = "console.errors.csrf_failure"
LOGIN_URL = "console:sign-in"

CONTENT_SECURITY_POLICY = {
    # Swagger UI (its own inline script) and the Django admin keep their own pages; everything
    # else, the console first, gets the strict policy.
    "EXCLUDE_URL_PREFIXES": ["/api/docs/", "/admin/"],
    "DIRECTIVES": {
        "default-src": [NONE],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF],
        "font-src": [SELF],
        "connect-src": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "base-uri": [NONE],
        "object-src": [NONE],
    },
}
