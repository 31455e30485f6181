from django.apps import AppConfig


class DemoConfig(AppConfig):
    # The demo data (`manage.py seed_demo`): an entry point above every app, so it may use them all.
    name = "demo"
    verbose_name = "Demo data"
