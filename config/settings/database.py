"""PostgreSQL: DATABASE_URL, connection reuse, timeouts."""

from .environment import env

DATABASES = {"default": env.db("DATABASE_URL")}
# Django's backend with a cheaper health check (config/postgresql/base.py).
DATABASES["default"]["ENGINE"] = "config.postgresql"
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Our queries are short: PostgreSQL's JIT compiles any plan whose estimate passes jit_above_cost,
# and on the case history's anti-joins it spent 9 of 24 ms compiling (bench, 1M cases). Off for our
# connections unless DATABASE_URL's `options` says otherwise (docs/performance.md: PgBouncer).
_pg_options = DATABASES["default"].setdefault("OPTIONS", {})
if "jit" not in _pg_options.get("options", ""):
    _pg_options["options"] = (_pg_options.get("options", "") + " -c jit=off").strip()
# A database host that does not answer makes a request fail (503) in seconds instead of holding a
# worker until gunicorn's timeout.
_pg_options.setdefault("connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT", default=5))
# A statement still running (or waiting for a lock) after this many seconds is cancelled: the
# request answers 503 with Retry-After (Twilio retries a webhook) instead of holding its worker
# until gunicorn's timeout kills it. config/gunicorn.py sets it for the web only; Celery,
# migrations (index builds on large tables) and management commands run without (0).
_statement_timeout = env.float("DATABASE_STATEMENT_TIMEOUT", default=0)
if _statement_timeout > 0 and "statement_timeout" not in _pg_options["options"]:
    _pg_options["options"] += f" -c statement_timeout={int(_statement_timeout * 1000)}"
# A database host that vanishes (a failover, a network partition) must not hold a kept connection
# until the kernel gives up (minutes): TCP keepalives and a bound on unacknowledged data make the
# next query fail in seconds, so a webhook is spooled (channels_sms.spool) and the drain thread
# moves on, instead of a worker waiting for gunicorn's timeout.
_pg_options.setdefault("keepalives", 1)
_pg_options.setdefault("keepalives_idle", env.int("DATABASE_KEEPALIVES_IDLE", default=10))
_pg_options.setdefault("keepalives_interval", 5)
_pg_options.setdefault("keepalives_count", 3)
_pg_options.setdefault("tcp_user_timeout", env.int("DATABASE_TCP_USER_TIMEOUT_MS", default=15000))
