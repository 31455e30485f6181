from django.contrib import admin
from django.urls import include, path
from django_otp.admin import OTPAdminSite
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from config.health import healthz, readyz

# The Django admin asks for the TOTP code too: otherwise it would be a way around two-factor sign-in.
admin.site.__class__ = OTPAdminSite

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("api/v1/", include("helpline.api.urls")),
    path("api/v1/", include("cases.api.urls")),
    path("api/v1/", include("referrals.api.urls")),
    path("api/v1/", include("channels_sms.api.urls")),
    path("api/v1/", include("notifications.api.urls")),
    path("webhooks/", include("channels_sms.api.webhook_urls")),
    path("console/", include("console.urls")),
    path("admin/", admin.site.urls),
]

handler400 = "helpline.api.errors.bad_request"
handler403 = "helpline.api.errors.permission_denied"
handler404 = "helpline.api.errors.not_found"
handler500 = "helpline.api.errors.server_error"
