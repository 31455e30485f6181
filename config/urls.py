from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from config.health import healthz, readyz
from helpline.admin import AdminSite

# The Django admin asks for the TOTP code too, and signs an idle browser out (helpline.admin).
admin.site.__class__ = AdminSite

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
    path("api/v1/", include("reports.api.urls")),
    path("webhooks/", include("channels_sms.api.webhook_urls")),
    path("console/", include("console.urls")),
    path("admin/", admin.site.urls),
]

handler400 = "helpline.api.errors.bad_request"
handler403 = "helpline.api.errors.permission_denied"
handler404 = "helpline.api.errors.not_found"
handler500 = "helpline.api.errors.server_error"
