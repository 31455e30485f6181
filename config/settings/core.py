"""Django itself: secret key, hosts, apps, middleware, URLs, templates, language and time, static
files, request size."""

from .environment import BASE_DIR, env

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env("SECRET_KEY")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])
# The URL Twilio and browsers use to reach us; webhook signatures are computed against it.
PUBLIC_BASE_URL = env("PUBLIC_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "knox",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "drf_standardized_errors",
    "pgtrigger",
    "pghistory",
    "django_htmx",
    "csp",
    "helpline",
    "notifications",
    "cases",
    "referrals",
    "channels_sms",
    # The helpline's numbers: roll-ups, reports and exports over every app below.
    "reports",
    # The web console: pages for every role over the apps' services and selectors.
    "console",
    # Demo data (seed_demo) uses every app above: it sits on top of them.
    "demo",
]

MIDDLEWARE = [
    "helpline.middleware.RequestContextMiddleware",
    # A view's database error (an outage, a restart) answers 503 in the one error shape, not 500.
    "helpline.middleware.DatabaseUnavailableMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # The language of the answer and its Content-Language (static files above have none).
    "helpline.i18n.LanguageMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Marks whether a session user passed a second factor; the admin site requires it.
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last: turns a django-axes lockout into our 429 answer (AXES_LOCKOUT_CALLABLE).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
# A POST to a URL without its trailing slash answers 404 in JSON, not an HTML redirect that
# clients would follow as a GET.
APPEND_SLASH = False
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "console.context.console",
            ],
        },
    },
]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en"
# The languages the API answers in (helpline.i18n; issue #16): each has a catalogue in the apps'
# locale/ directories (docs/languages.md). English is also the fallback.
LANGUAGES = [("en", "English"), ("es", "Español"), ("mn", "Монгол")]
# Our additions to Django's formats per language (numbers in Mongolian: config/formats/mn/).
FORMAT_MODULE_PATH = ["config.formats"]
# Translations of the libraries' own messages that they do not ship (Django REST Framework has no
# Mongolian): first in Django's search, and never rewritten by `make messages`.
LOCALE_PATHS = [BASE_DIR / "config" / "locale"]
# Storage is always UTC; a helpline's own timezone is applied only at the edges.
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True  # serve app static files without a collectstatic step

# Request bodies: children's messages are short; anything this large is an error or an attack.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=256 * 1024)
