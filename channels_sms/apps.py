from django.apps import AppConfig


class ChannelsSmsConfig(AppConfig):
    """Inbound channels (Twilio voice, SMS/WhatsApp, web chat). Built in issue #4."""

    name = "channels_sms"
    verbose_name = "Inbound channels"
