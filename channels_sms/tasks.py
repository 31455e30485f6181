from celery import shared_task

from . import services


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
    return services.inbound_event_process(event_id=event_id)


@shared_task(name="channels_sms.tasks.sweep_unprocessed_events", ignore_result=True)
def sweep_unprocessed_events() -> int:
    """Beat task: dispatch again the inbound messages whose processing was lost."""
    return len(services.unprocessed_events_redispatch())
