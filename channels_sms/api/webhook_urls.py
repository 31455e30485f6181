"""Twilio's webhooks, mounted under /webhooks/ (config/urls.py)."""

from django.urls import path

from . import views, voice_views

urlpatterns = [
    path("twilio/sms/", views.sms_webhook, name="twilio-sms"),
    path("twilio/sms/status/", views.sms_status_webhook, name="twilio-sms-status"),
    # Fallback URLs (manage.py twilio_webhooks): spool without trying the database.
    path("twilio/sms/fallback/", views.sms_fallback_webhook, name="twilio-sms-fallback"),
    path("twilio/voice/", voice_views.voice_webhook, name="twilio-voice"),
    path("twilio/voice/fallback/", voice_views.voice_fallback_webhook, name="twilio-voice-fallback"),
    path("twilio/voice/gather/", voice_views.voice_gather_webhook, name="twilio-voice-gather"),
    path("twilio/voice/status/", voice_views.voice_status_webhook, name="twilio-voice-status"),
]
