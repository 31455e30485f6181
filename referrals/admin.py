from django.contrib import admin

from .models import Agency


@admin.register(Agency)
class AgencyAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "sector", "country", "helpline", "is_active")
    list_filter = ("helpline", "sector", "is_active")
    # The webhook URL and its signing secret are set together through the API (which refuses a URL
    # without a secret), and the secret is never shown again. Referrals carry case data, which
    # administrators do not read, so they have no admin page.
    exclude = ("webhook_url", "webhook_secret")
