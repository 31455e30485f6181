from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = gettext_lazy("Staff notifications")

    def ready(self) -> None:
        from helpline import labels

        from .models import NotificationKind

        # The codes whose labels people read (GET /api/v1/vocabularies/, helpline.labels).
        labels.register("notification_kind", NotificationKind)
