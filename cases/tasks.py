from celery import shared_task

from .services import anonymise_expired_cases as _anonymise
from .services import escalate_overdue_cases as _escalate
from .services import reconcile_row_history as _reconcile


@shared_task(name="cases.tasks.escalate_overdue_cases")
def escalate_overdue_cases() -> int:
    """Beat task: raise overdue cases to their supervisors. Idempotent (one escalation per missed
    due date), so a retry or an overlapping run does no harm."""
    return _escalate()


@shared_task(name="cases.tasks.anonymise_expired_cases")
def anonymise_expired_cases() -> int:
    """Beat task: erase personal data of closed cases past their helpline's retention period.
    Idempotent: an anonymised case is skipped."""
    return _anonymise()


@shared_task(name="cases.tasks.reconcile_row_history")
def reconcile_row_history() -> int:
    """Beat task: report row changes made outside the services into the audit log. Idempotent:
    each change is reported once."""
    return _reconcile()
