"""The probes a load balancer asks: /healthz (the process is alive) and /readyz (it can do its
work). Here, above every app, because readiness is the node's: the database, Redis, and this node's
spool of inbound webhooks (channels_sms.spool)."""

from __future__ import annotations

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse

from channels_sms import spool


def healthz(request: HttpRequest) -> JsonResponse:
    """The process is alive (no dependencies checked: a liveness probe must not flap with the DB)."""
    return JsonResponse({"status": "ok"})


def readyz(request: HttpRequest) -> JsonResponse:
    """Ready to serve: PostgreSQL and Redis both answer. While the database is away the node still
    takes inbound webhooks into its spool: then it answers 200 "degraded: spooling N" (a load
    balancer keeps sending Twilio's requests here), and 503 once the spool refuses too."""
    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {exc.__class__.__name__}"
    try:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
        client.ping()
        checks["redis"] = "ok"
    except Exception as exc:
        checks["redis"] = f"error: {exc.__class__.__name__}"
    try:
        figures = spool.counted()
        refusing = spool.refusal(figures)
        checks["spool"] = f"full: {refusing}" if refusing else "ok"
    except OSError as exc:
        figures, refusing = spool.Figures(), "unreadable"
        checks["spool"] = f"error: {exc.__class__.__name__}"
    body: dict = {
        "checks": checks,
        "spool": {
            "pending": figures.pending,
            "bytes": figures.size,
            "oldest_seconds": spool.oldest_seconds(figures),
            "held": len(spool.held_paths()) if not checks["spool"].startswith("error") else 0,
        },
    }
    if all(value == "ok" for value in checks.values()):
        status, code = "ok", 200
    elif checks["database"] != "ok" and not refusing:
        status, code = f"degraded: spooling {figures.pending}", 200
    else:
        status, code = "unavailable", 503
    return JsonResponse({"status": status, **body}, status=code)
