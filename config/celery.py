from celery import Celery

# DJANGO_SETTINGS_MODULE comes from the environment (the launcher, docker-compose); it is not
# defaulted here because importing `config` must not change the environment of other tools.
app = Celery("lifeline")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
