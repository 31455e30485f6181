"""Who may sign in and how: the user model, passwords, lockouts (django-axes), API tokens
(django-rest-knox), second factors (django-otp), break-glass access to restricted cases."""

from datetime import timedelta

from .environment import env

AUTH_USER_MODEL = "helpline.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Sign-in (docs/decisions.md, "Authentication"). django-axes counts failed sign-ins per account and,
# separately, per client address: 5 failures lock that account, or that address, for 30 minutes.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=30)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
# Attempts during a lockout are refused without extending it: it ends 30 minutes after it began.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_CLIENT_IP_CALLABLE = "helpline.api.authentication.client_ip"
AXES_LOCKOUT_CALLABLE = "helpline.api.errors.locked_out"
AXES_DISABLE_ACCESS_LOG = True  # successful sign-ins are in our audit log already
# API tokens (django-rest-knox): only a hash is stored; a token expires after TOKEN_IDLE_HOURS
# without use (each use moves its expiry forward).
REST_KNOX = {
    "TOKEN_TTL": timedelta(hours=env.float("TOKEN_IDLE_HOURS", default=12)),
    "AUTO_REFRESH": True,
    "AUTH_HEADER_PREFIX": "Token",
}
# Supervisors and administrators also give a TOTP code (django-otp) when they sign in.
OTP_TOTP_ISSUER = "Lifeline"
# A set-password link (issued when an administrator creates a person or asks for a reset) works once,
# within this many hours.
SET_PASSWORD_LINK_HOURS = env.float("SET_PASSWORD_LINK_HOURS", default=72)

# How long a supervisor's break-glass access to a restricted case lasts.
BREAK_GLASS_MINUTES = env.int("BREAK_GLASS_MINUTES", default=60)
