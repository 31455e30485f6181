"""HTTP security headers every profile sends. The production profile (config/settings/production.py)
adds HTTPS: HSTS, secure cookies and the redirect to https."""

# The proxy in front of us (docker-compose: whatever terminates TLS) says the original scheme.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
