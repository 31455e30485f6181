"""Who is asking, from where: set once per request (or task) and read by the audit log."""

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class RequestContext:
    request_id: str = ""
    client_ip: str | None = None
    user_agent: str = ""


_current: ContextVar[RequestContext] = ContextVar("lifeline_request_context", default=RequestContext())


def current() -> RequestContext:
    return _current.get()


def bind(context: RequestContext):
    return _current.set(context)


def reset(token) -> None:
    _current.reset(token)
