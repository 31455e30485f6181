"""Every Celery task of the inbound channels. Their names stay `channels_sms.tasks.<name>` (given
explicitly): a task queued by a running release must still find its function in the next."""

from celery import shared_task

from . import chat, sms, voice


@shared_task(
    name="channels_sms.tasks.process_inbound_event",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def process_inbound_event(event_id: int) -> str:
    """Threads one stored inbound message into a contact and case. Idempotent (the event row is
    locked and marked processed in the same transaction), so a redelivery or a sweeper re-dispatch
    of a processed event does nothing."""
    return sms.inbound_event_process(event_id=event_id)


@shared_task(name="channels_sms.tasks.sweep_unprocessed_events", ignore_result=True)
def sweep_unprocessed_events() -> int:
    """Beat task: dispatch again the inbound messages whose processing was lost."""
    return len(sms.unprocessed_events_redispatch())


@shared_task(name="channels_sms.tasks.drain_spool", ignore_result=True)
def drain_spool() -> int:
    """Beat task: stores what this node's spool kept while the database was away (nothing to do,
    and no file touched, when it is empty)."""
    from . import spool_drain

    result = spool_drain.drain_round()
    return result.stored if result is not None else 0


@shared_task(
    name="channels_sms.tasks.process_voice_call",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def process_voice_call(call_sid: str) -> str:
    """Files a call's stored events (idempotent: each event is marked processed with its effect)."""
    return voice.voice_call_process(call_sid=call_sid)


@shared_task(name="channels_sms.tasks.sweep_unprocessed_calls", ignore_result=True)
def sweep_unprocessed_calls() -> int:
    """Beat task: dispatch again the calls whose processing was lost."""
    return len(voice.unprocessed_calls_redispatch())


@shared_task(
    bind=True,
    name="channels_sms.tasks.send_outbound_message",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    max_retries=None,
)
def send_outbound_message(self, message_id: int) -> str:
    """Sends an operator's reply, at most once (see channels_sms.outbound); timeouts, connection
    errors and Twilio 5xx/429 are retried with exponential backoff, then the message is failed."""
    from django.conf import settings

    from . import outbound

    try:
        return outbound.message_deliver(message_id=message_id)
    except outbound.RetryableSendError as exc:
        if self.request.retries >= settings.OUTBOUND_MAX_RETRIES:
            outbound.message_give_up(message_id=message_id, reason=str(exc))
            return "failed"
        countdown = settings.OUTBOUND_RETRY_BASE_SECONDS * 2**self.request.retries
        raise self.retry(exc=exc, countdown=countdown) from exc


@shared_task(name="channels_sms.tasks.sweep_unsent_messages", ignore_result=True)
def sweep_unsent_messages() -> int:
    """Beat task: dispatch again the replies whose send task was never dispatched (the broker was
    down at commit, or the process died between commit and publish)."""
    from . import outbound

    return len(outbound.unsent_messages_redispatch())


@shared_task(name="channels_sms.tasks.close_expired_chat_sessions", ignore_result=True)
def close_expired_chat_sessions() -> int:
    """Beat task: ends the web chats whose time ran out, each with its `session_ended` entry."""
    return chat.chat_sessions_close_expired()
