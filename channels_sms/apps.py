from django.apps import AppConfig


class ChannelsSmsConfig(AppConfig):
    """Inbound channels (Twilio voice, SMS/WhatsApp, web chat). Built in issue #4."""

    name = "channels_sms"
    verbose_name = "Inbound channels"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from cases.search import register_contact_phone_lookup
        from cases.services.retention import register_erasure
        from helpline.models import Helpline

        from .erasure import conversations_erase
        from .models import PhoneNumber, VoiceRoute
        from .selectors import contacts_from_senders, phone_numbers_forget

        # Anonymising a case erases its conversations too ("messages_erased" in its audit entry).
        register_erasure("messages", conversations_erase)

        # Contacts are found by the number they came from (`?q=` on the contacts list).
        register_contact_phone_lookup("senders", contacts_from_senders)

        # A kept number carries its helpline and its voice route.
        for model in (PhoneNumber, Helpline, VoiceRoute):
            post_save.connect(
                phone_numbers_forget, sender=model, dispatch_uid=f"forget-numbers-{model.__name__}"
            )
            post_delete.connect(
                phone_numbers_forget, sender=model, dispatch_uid=f"forget-numbers-del-{model.__name__}"
            )
