"""While the broker is unreachable, webhooks stop waiting on it: after one failed publish the
following requests store their event and answer at once, leaving the work to the sweeper, for
BROKER_BACKOFF_SECONDS; then publishing is tried again."""

import pytest

from channels_sms.models import InboundEvent
from channels_sms.sms import unprocessed_events_redispatch

from .test_inbound_messages_are_threaded import webhook
from .twilio_signing import PUBLIC, TOKEN


@pytest.fixture(autouse=True)
def twilio_settings(settings):
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.PUBLIC_BASE_URL = PUBLIC


@pytest.fixture
def broker(monkeypatch):
    """The inbound task's publish, failing while `broker.down` is set; counts every attempt."""
    from channels_sms.tasks import process_inbound_event

    class Broker:
        down = True
        attempts: list[tuple] = []

        def apply_async(self, args, **kwargs):
            self.attempts.append(args)
            if self.down:
                raise ConnectionError("broker down")

    fake = Broker()
    fake.attempts = []
    monkeypatch.setattr(process_inbound_event, "apply_async", fake.apply_async)
    return fake


@pytest.mark.django_db
def test_after_a_failed_publish_webhooks_skip_the_broker_and_store_their_events(
    sms_number,
    broker,
    settings,
    django_capture_on_commit_callbacks,
):
    settings.BROKER_BACKOFF_SECONDS = 60
    with django_capture_on_commit_callbacks(execute=True):
        first = webhook("SM1")
    with django_capture_on_commit_callbacks(execute=True):
        later = [webhook(f"SM{n}") for n in range(2, 6)]

    assert broker.attempts == [(first.pk,)]  # one try; the next four did not wait on the broker
    assert InboundEvent.objects.filter(processed_at__isnull=True).count() == 5

    # The back-off over and the broker back, the next publish goes out, and the sweeper sends
    # the ones that were left to it.
    settings.BROKER_BACKOFF_SECONDS = 0
    broker.down = False
    with django_capture_on_commit_callbacks(execute=True):
        sixth = webhook("SM6")
    assert broker.attempts[-1] == (sixth.pk,)
    InboundEvent.objects.update(dispatched_at="2000-01-01T00:00:00Z")
    redispatched = unprocessed_events_redispatch()
    assert sorted(redispatched) == sorted(e.pk for e in [first, *later, sixth])
    assert sorted(broker.attempts[-6:]) == sorted((pk,) for pk in redispatched)


@pytest.mark.django_db
def test_a_successful_publish_clears_the_back_off(
    sms_number, broker, settings, django_capture_on_commit_callbacks
):
    settings.BROKER_BACKOFF_SECONDS = 0
    with django_capture_on_commit_callbacks(execute=True):
        webhook("SM1")  # fails, but no back-off
    broker.down = False
    with django_capture_on_commit_callbacks(execute=True):
        webhook("SM2")
    settings.BROKER_BACKOFF_SECONDS = 60
    with django_capture_on_commit_callbacks(execute=True):
        third = webhook("SM3")  # the last publish succeeded: no back-off in force
    assert len(broker.attempts) == 3 and broker.attempts[-1] == (third.pk,)
