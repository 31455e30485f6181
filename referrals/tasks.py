from celery import shared_task

from . import notifications, services


@shared_task(name="referrals.tasks.expire_unanswered_referrals", ignore_result=True)
def expire_unanswered_referrals() -> int:
    """Beat: referrals unanswered past the agency's deadline expire and escalate. Idempotent."""
    return services.expire_unanswered_referrals()


@shared_task(
    name="referrals.tasks.deliver_to_agency",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def deliver_to_agency(delivery_id: int) -> str:
    """One attempt at a signed webhook to an agency; retries are scheduled in the row and sent by
    the beat sweep (no long countdowns held in the broker)."""
    return notifications.delivery_attempt(delivery_id=delivery_id)


@shared_task(name="referrals.tasks.send_due_deliveries", ignore_result=True)
def send_due_deliveries() -> int:
    """Beat: dispatch deliveries whose next attempt is due."""
    return len(notifications.due_deliveries_dispatch())
