"""The one way to write to the audit log. Call it inside the transaction of the change it records,
so a change and its entry commit or roll back together."""

from collections.abc import Iterable, Mapping
from typing import Any

from django.db import models

from . import context
from .models import AuditEntry, AuditOutcome, Helpline, User

REDACTED = "[redacted]"


def audit_record(
    *,
    actor: User | None,
    action: str,
    obj: models.Model | None = None,
    object_type: str = "",
    object_id: Any = "",
    case_id: int | None = None,
    helpline: Helpline | int | None = None,
    changes: Mapping[str, Any] | None = None,
    outcome: str = AuditOutcome.ALLOWED,
    extra: Mapping[str, Any] | None = None,
) -> AuditEntry:
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or obj.pk
    if helpline is None and actor is not None:
        helpline = actor.helpline_id
    ctx = context.current()
    return AuditEntry.objects.create(
        actor=actor,
        actor_username=actor.username if actor else "",
        actor_role=actor.role if actor else "system",
        helpline_id=helpline.pk if isinstance(helpline, Helpline) else helpline,
        action=action,
        object_type=object_type,
        object_id=str(object_id or ""),
        case_id=case_id,
        changes=dict(changes or {}),
        outcome=outcome,
        request_id=ctx.request_id,
        client_ip=ctx.client_ip,
        user_agent=ctx.user_agent,
        extra=dict(extra or {}),
    )


def diff(
    before: Mapping[str, Any], after: Mapping[str, Any], *, personal: Iterable[str] = ()
) -> dict[str, dict[str, Any]]:
    """Changed fields as {field: {"before": ..., "after": ...}}; personal data is never copied into
    the log, only the fact that it changed."""
    personal = set(personal)
    changed = {}
    for field, new in after.items():
        old = before.get(field)
        if old != new:
            if field in personal:
                changed[field] = {"before": REDACTED, "after": REDACTED}
            else:
                changed[field] = {"before": _jsonable(old), "after": _jsonable(new)}
    return changed


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, models.Model):
        return value.pk
    return str(value)
