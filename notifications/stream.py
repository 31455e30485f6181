"""The live stream of a person's notifications: published to Redis (one pub/sub channel per
person) after the event's commit, read by the server-sent-events endpoint.

A stream holds a web worker while it is open, so it is bounded: it lasts
NOTIFICATION_STREAM_SECONDS, sends a heartbeat comment every NOTIFICATION_STREAM_HEARTBEAT_SECONDS
(proxies close idle connections), and at most NOTIFICATION_STREAM_LIMIT streams are open in the
installation at once (a Redis sorted set of open streams with their deadlines, so a stream whose
process died stops counting after its deadline)."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterator
from typing import Any

import redis
from django.conf import settings

logger = logging.getLogger(__name__)

OPEN_STREAMS_KEY = "lifeline:notifications:open-streams"


def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=2)


def channel_of(user_id: int) -> str:
    return f"lifeline:notifications:user:{user_id}"


def event_text(event_id: int | None, data: dict[str, Any], event: str = "notification") -> str:
    # No id on control events: the console's Last-Event-ID stays the last notification's.
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, sort_keys=True)}\n\n"


def publish(user_id: int, event_id: int, data: dict[str, Any]) -> None:
    """Tells the person's open streams (after commit; a failure only delays it to the next
    reconnect, which replays from Last-Event-ID)."""
    try:
        _redis().publish(channel_of(user_id), json.dumps({"id": event_id, "data": data}))
    except redis.RedisError:
        logger.warning("Could not publish notification %s to the live stream", event_id)


def stream_slot() -> str | None:
    """Takes one of the installation's stream slots; None when all are taken."""
    client = _redis()
    now = time.time()
    token = uuid.uuid4().hex
    deadline = now + settings.NOTIFICATION_STREAM_SECONDS + 30
    pipe = client.pipeline()
    pipe.zremrangebyscore(OPEN_STREAMS_KEY, "-inf", now)
    pipe.zadd(OPEN_STREAMS_KEY, {token: deadline})
    pipe.zcard(OPEN_STREAMS_KEY)
    _, _, open_now = pipe.execute()
    if open_now > settings.NOTIFICATION_STREAM_LIMIT:
        client.zrem(OPEN_STREAMS_KEY, token)
        return None
    return token


def stream_slot_release(token: str) -> None:
    try:
        _redis().zrem(OPEN_STREAMS_KEY, token)
    except redis.RedisError:
        logger.warning("Could not release a stream slot; it lapses after its deadline")


class Stream:
    """The response's content: iterates `events`, and gives its slot back when the server closes
    the response, even if the client went away before the first byte (a generator never started
    would not run its `finally`). Django calls `close()` on content that has one."""

    def __init__(self, user_id: int, token: str, missed: list[str]):
        self.token = token
        self._events = events(user_id, token, missed)

    def __iter__(self) -> Iterator[str]:
        return self._events

    def close(self) -> None:
        self._events.close()
        stream_slot_release(self.token)


def events(user_id: int, token: str, missed: list[str]) -> Iterator[str]:
    """The stream's text: the retry hint, what was missed, then each new notification as it is
    published, heartbeats between, until the stream's time is up. Reads Redis only (no database
    connection held while it waits)."""
    pubsub = _redis().pubsub(ignore_subscribe_messages=True)
    try:
        pubsub.subscribe(channel_of(user_id))
        yield "retry: 2000\n\n"
        yield from missed
        started = time.monotonic()
        heartbeat = settings.NOTIFICATION_STREAM_HEARTBEAT_SECONDS
        last_beat = started
        while (left := settings.NOTIFICATION_STREAM_SECONDS - (time.monotonic() - started)) > 0:
            message = pubsub.get_message(timeout=min(heartbeat, left, 1.0))
            if message is not None and message.get("type") == "message":
                published = json.loads(message["data"])
                yield event_text(published["id"], published["data"])
            elif time.monotonic() - last_beat >= heartbeat:
                last_beat = time.monotonic()
                yield ": heartbeat\n\n"
        # Tell the console to reconnect (with Last-Event-ID) rather than treat the end as an error.
        yield event_text(None, {"reconnect": True}, event="end")
    finally:
        pubsub.close()
        stream_slot_release(token)
