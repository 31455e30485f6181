"""Settings shared by every profile, composed from one module per concern; every value that differs
per deployment comes from the environment (12-factor, config/settings/environment.py).

    core              Django itself: secret key, hosts, apps, middleware, static files
    database          PostgreSQL
    cache_and_celery  Redis, Celery and the beat schedule of the sweepers
    auth              passwords, lockouts, API tokens, second factors, break-glass
    encryption        keys of personal data at rest
    security          HTTP security headers (HTTPS itself: the production profile)
    api               DRF, the error shape, the OpenAPI schema
    channels          Twilio, inbound threading, replies, web chat
    referrals         agency webhooks
    reports           the helpline's numbers: small-cell suppression
    notifications     staff notifications: e-mail, SMS, the live stream
    console           the web console: session, idle timeout, Content-Security-Policy
    logs              logging

Profiles: this one (`make run`, the launcher's processes), `test` (pytest) and `production`
(docker-compose and the Dockerfile: HTTPS only, `manage.py check --deploy` clean).

Each concern module reads only the environment and names settings no other module names, so the
order of the imports below does not matter. A new setting goes into the module of its concern.
"""

from .api import *  # noqa: F403
from .auth import *  # noqa: F403
from .cache_and_celery import *  # noqa: F403
from .channels import *  # noqa: F403
from .console import *  # noqa: F403
from .core import *  # noqa: F403
from .database import *  # noqa: F403
from .encryption import *  # noqa: F403
from .logs import *  # noqa: F403
from .notifications import *  # noqa: F403
from .referrals import *  # noqa: F403
from .reports import *  # noqa: F403
from .security import *  # noqa: F403
