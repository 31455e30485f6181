"""Who is asking, from where: set once per request (or task) and read by the audit log."""

from contextvars import ContextVar
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RequestContext:
    request_id: str = ""  # ours, always generated here; never a client's
    # The X-Request-ID the client sent, cleaned and cut (helpline.middleware): kept for tracing its
    # requests, beside ours in the audit entry's `extra`, never in place of it.
    client_request_id: str = ""
    client_ip: str | None = None
    user_agent: str = ""
    # Set once this request has put a refusal on the record, so a refusal is recorded once.
    refusal_recorded: list[bool] = field(default_factory=list)


def note_refusal_recorded() -> None:
    ctx = _current.get()
    if ctx is not None:
        ctx.refusal_recorded.append(True)


def refusal_recorded() -> bool:
    ctx = _current.get()
    return bool(ctx and ctx.refusal_recorded)


_EMPTY = RequestContext()
_current: ContextVar[RequestContext | None] = ContextVar("lifeline_request_context", default=None)


def current() -> RequestContext:
    return _current.get() or _EMPTY


def bind(context: RequestContext):
    return _current.set(context)


def reset(token) -> None:
    _current.reset(token)
