"""Twilio's webhooks, mounted under /webhooks/ (config/urls.py)."""

from django.urls import path

from . import views

urlpatterns = [
    path("twilio/sms/", views.sms_webhook, name="twilio-sms"),
    path("twilio/sms/status/", views.sms_status_webhook, name="twilio-sms-status"),
]
