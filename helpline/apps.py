from django.apps import AppConfig


class HelplineConfig(AppConfig):
    name = "helpline"
    verbose_name = "Helplines, people and audit"
