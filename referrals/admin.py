from django.contrib import admin

from .models import Agency


@admin.register(Agency)
class AgencyAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "kind", "helpline", "is_active")
    list_filter = ("helpline", "kind", "is_active")
