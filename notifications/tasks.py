from celery import shared_task

from . import outbox


@shared_task(
    name="notifications.tasks.deliver_notification",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def deliver_notification(delivery_id: int) -> str:
    """One attempt at a notification's e-mail or SMS; retries are scheduled in the row and sent by
    the beat sweep."""
    return outbox.delivery_attempt(delivery_id=delivery_id)


@shared_task(name="notifications.tasks.send_due_notifications", ignore_result=True)
def send_due_notifications() -> int:
    """Beat: dispatch notification deliveries whose next attempt is due."""
    return len(outbox.due_deliveries_dispatch())
