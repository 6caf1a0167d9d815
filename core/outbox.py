"""The transactional outbox: domain events that are never lost between commit and broker.

- `record()` (through `send_after_commit(signal, ...)`) writes an `OutboxEvent` row in the caller's
  transaction: the event exists exactly when the change committed. It also asks for delivery
  right after commit (`deliver`), in the same process, so events usually leave at once.
- Delivery sends the event's signal (registered by its app: `register_event`, `register_job`) to the receivers the consuming apps
  connect; they queue their Celery tasks. When every receiver took it, the row is marked sent.
  Nothing here ever raises into the request that committed: a broker outage (or any receiver
  error) leaves the row pending, and after a broker error this process stops trying for
  `OUTBOX_PAUSE_SECONDS`, so tills do not wait on a dead broker.
- `relay()` (beat, every few seconds: `membership.tasks.relay_outbox`) delivers what is still
  pending, oldest first, rows locked with SKIP LOCKED so parallel relays never take the same row.
- Delivery is at least once (a crash between hand-over and "sent" hands the event over again), so
  consumers are idempotent on the event id: `once()` records a receipt in the consumer's own
  transaction.
- Handed over is not done: the broker may still lose the work (Redis restarted empty, a worker
  killed whole). A receiver returns the name of the consumer it queued work for (its `once` name),
  and the event is marked sent `awaiting` those consumers. `reconcile()` (beat, every minute:
  `membership.tasks.reconcile_outbox`) hands an event over again when a consumer it awaits still
  has no receipt a minute after the hand-over (`confirm_wait`: longer while tasks wait in the
  broker's queues, a backlog rather than a loss); the receipts make that harmless
  when the first hand-over was not lost after all. A long job shows it is alive with `alive()`
  and confirms with `confirm()` when it cannot run in one transaction.

The same rows (stable type, UUID, time, JSON payload) are what webhooks will publish.
"""

import atexit
import json
import logging
import threading
import time
import uuid
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.dispatch import Signal
from django.utils import timezone

from core import rows

log = logging.getLogger(__name__)

_paused_until = 0.0  # this process saw the broker fail: leave delivery to the relay until then


def _broker_errors() -> tuple:
    from kombu.exceptions import OperationalError as KombuOperationalError

    errors = [KombuOperationalError, ConnectionError, TimeoutError]
    try:
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError

        errors += [RedisConnectionError, RedisTimeoutError]
    except ImportError:  # pragma: no cover - redis is installed wherever the broker is Redis
        pass
    return tuple(errors)


# --- the event-type registry: the apps that own events register them in their AppConfig.ready()
# (membership's domain events in membership/signals.py, campaigns' queued messages as a job)
EVENT_TYPES: dict[str, Signal] = {}  # domain events: stable names, what webhooks publish
# Internal jobs that ride the outbox for its guarantee (the row exists exactly when the caller's
# transaction committed; delivered at least once) but are not domain events: webhooks do not
# publish them (campaigns: "notification.queued").
JOB_TYPES: dict[str, Signal] = {}
_TYPE_OF: dict[int, str] = {}


def register_event(event_type: str, signal: Signal) -> None:
    EVENT_TYPES[event_type] = signal
    _TYPE_OF[id(signal)] = event_type


def register_job(job_type: str, signal: Signal) -> None:
    JOB_TYPES[job_type] = signal
    _TYPE_OF[id(signal)] = job_type


def signal_for(event_type: str) -> Signal:
    """The signal an outbox row of this type is delivered to."""
    return EVENT_TYPES.get(event_type) or JOB_TYPES[event_type]


def event_type(signal: Signal) -> str:
    return _TYPE_OF[id(signal)]


def send_after_commit(signal: Signal, **payload):
    """Record the event in the caller's transaction (an outbox row, returned); its receivers get it
    after commit, at least once, even if the broker or the process fails in between. `data`, when
    given, is what the event publishes (core.events): the catalogue's public fields."""
    return record(event_type(signal), payload)


def send_all_after_commit(signal: Signal, payloads) -> None:
    """The same for many events of one kind at once (one INSERT)."""
    record_many(event_type(signal), payloads)


def _json(payload: dict) -> dict:
    """The payload as its receivers (and webhooks) will see it: JSON values only."""
    return json.loads(json.dumps(payload, cls=DjangoJSONEncoder))


def _new(event_type: str, payload: dict, at):
    from core.models import OutboxEvent

    return OutboxEvent(id=uuid.uuid4(), type=event_type, occurred_at=at, payload=_json(payload))


def record(event_type: str, payload: dict):
    """Write one event in the current transaction; deliver it after commit."""
    event = rows.insert(_new(event_type, payload, timezone.now()))
    transaction.on_commit(lambda: deliver([event]))
    return event


# rows per INSERT of record_many: PostgreSQL takes at most 65,535 parameters a statement with
# server-side binding (portal/settings/database.py), 8 a row; a batch of 20,000 (an expiry range) is 4
ROWS_PER_INSERT = 5000


def record_many(event_type: str, payloads) -> list:
    from core.models import OutboxEvent

    at = timezone.now()
    events = [_new(event_type, p, at) for p in payloads]
    if events:
        OutboxEvent.objects.bulk_create(events, batch_size=ROWS_PER_INSERT)
        transaction.on_commit(lambda: deliver(events))
    return events


def _awaited(responses) -> list[str] | None:
    """The consumers the receivers queued work for: those that returned their name."""
    names = sorted({name for _, name in responses if isinstance(name, str)})
    return names or None


def _dispatch(events) -> tuple[dict, dict, bool]:
    """Hand events to their receivers, in order. Returns ({delivered id: consumers awaited}, {id:
    error} of events a receiver refused, whether the broker failed: then the rest is left for later)."""
    global _paused_until
    done, failed = {}, {}
    broker_errors = _broker_errors()
    for event in events:
        try:
            signal = signal_for(event.type)
            responses = signal.send(sender=None, event_id=str(event.id), **event.payload)
        except broker_errors as exc:
            _paused_until = time.monotonic() + settings.OUTBOX_PAUSE_SECONDS
            log.warning("outbox: broker unavailable, %s event(s) left pending: %s", len(events) - len(done), exc)
            failed[event.id] = f"{type(exc).__name__}: {exc}"
            return done, failed, True
        except Exception as exc:  # a receiver's bug must not block the others nor the till
            log.exception("outbox: event %s (%s) not delivered", event.id, event.type)
            failed[event.id] = f"{type(exc).__name__}: {exc}"
        else:
            done[event.id] = _awaited(responses)
    return done, failed, False


def _mark(done: dict, failed) -> None:
    """Record the outcome. On PostgreSQL without waiting for the WAL flush (synchronous_commit
    off for this transaction only): a mark lost in a crash only means the event is delivered
    again, which consumers ignore, and the sale does not pay for a second disk flush."""
    from core.models import OutboxEvent

    if not done and not failed:
        return
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
        at = timezone.now()
        by_awaited: dict = {}
        for pk, awaited in done.items():
            by_awaited.setdefault(tuple(awaited or ()), []).append(pk)
        for awaited, pks in by_awaited.items():
            OutboxEvent.objects.filter(pk__in=pks, sent_at__isnull=True).update(
                sent_at=at, awaiting=list(awaited) or None
            )
        for pk, error in failed.items():
            OutboxEvent.objects.filter(pk=pk).update(attempts=F("attempts") + 1, last_error=error[:2000])


# Events delivered after commit are marked sent in batches, not one UPDATE (and commit) per sale:
# at the first delivery after MARK_AFTER_SECONDS or once MARK_BATCH are waiting, and at exit. An
# event whose mark is lost (the process died, or sat idle past OUTBOX_SETTLE_SECONDS) is delivered
# again by the relay, which its consumers ignore (`once`).
MARK_BATCH = 100
MARK_AFTER_SECONDS = 1.0
_delivered: list = []  # (event id, consumers awaited)
_delivered_since = 0.0
_delivered_db = None  # the database (settings NAME) the events in _delivered were written to
_lock = threading.Lock()


def _database():
    return connection.settings_dict.get("NAME")


def flush_marks() -> int:
    """Mark sent what this process delivered after commit and has not marked yet, in the database the
    events were written to. When the process has moved to another database since (at exit after a test
    run, whose test database is dropped and the settings name the plain DATABASE_URL again), the marks
    are left to that database's relay: written to the other one they failed or touched the wrong rows."""
    global _delivered
    with _lock:
        ids, _delivered = _delivered, []
        database = _delivered_db
    if ids and database != _database():
        log.debug("outbox: %s delivered event(s) of database %s left unmarked for its relay", len(ids), database)
        return 0
    if ids:
        try:
            _mark(dict(ids), {})
        except Exception:
            log.exception("outbox: %s delivered event(s) not marked sent; the relay will deliver them again", len(ids))
    return len(ids)


def deliver(events) -> int:
    """After commit, in the process that wrote them. Never raises: whatever is not delivered
    stays pending for the relay."""
    global _delivered_since, _delivered_db
    if time.monotonic() < _paused_until:
        return 0
    try:
        done, failed, _ = _dispatch(events)
        if failed:
            _mark({}, failed)
    except Exception:
        log.exception("outbox: delivery after commit failed; the relay will retry")
        return 0
    with _lock:
        if not _delivered:
            _delivered_since = time.monotonic()
            _delivered_db = _database()
        _delivered.extend(done.items())
        due = len(_delivered) >= MARK_BATCH or time.monotonic() - _delivered_since >= MARK_AFTER_SECONDS
    if due:
        flush_marks()
    return len(done)


atexit.register(flush_marks)


def relay(*, batch_size: int = 100, settle_seconds: float | None = None) -> int:
    """Deliver pending events older than `settle_seconds` (those younger are being delivered by
    the process that wrote them), oldest first; returns how many were delivered. Stops at a broker
    error: the rest waits for the next run."""
    from core.models import OutboxEvent

    global _paused_until
    flush_marks()
    settle = settings.OUTBOX_SETTLE_SECONDS if settle_seconds is None else settle_seconds
    cutoff = timezone.now() - timedelta(seconds=settle)
    sent, refused = 0, set()
    while True:
        with transaction.atomic():
            batch = list(
                OutboxEvent.objects.select_for_update(skip_locked=True)
                .filter(sent_at__isnull=True, occurred_at__lte=cutoff)
                .exclude(pk__in=refused)
                .order_by("occurred_at")[:batch_size]
            )
            if not batch:
                return sent
            done, failed, broker_down = _dispatch(batch)
            _mark(done, failed)
        sent += len(done)
        refused.update(failed)
        if broker_down:
            return sent
        _paused_until = 0.0  # the broker works: this process delivers after commit again


def _missing(events) -> dict:
    """{event id: the consumers it awaits that have no receipt yet}. Asked per consumer, so that the
    receipts' unique (consumer, event) index answers."""
    from core.models import EventReceipt

    by_consumer: dict[str, list] = {}
    for event in events:
        for consumer in event.awaiting:
            by_consumer.setdefault(consumer, []).append(event.pk)
    seen = set()
    for consumer, ids in by_consumer.items():
        receipts = EventReceipt.objects.filter(consumer=consumer, event_id__in=ids).values_list("event_id", flat=True)
        seen.update((pk, consumer) for pk in receipts)
    return {e.pk: [c for c in e.awaiting if (e.pk, c) not in seen] for e in events}


def broker_backlog() -> int | None:
    """How many messages wait in the broker's queues (not those a worker has taken), or None when
    the broker does not answer. Eager tasks (tests, a till without a worker) have no queue: 0."""
    from celery import current_app
    from kombu.exceptions import ChannelError

    if current_app.conf.task_always_eager:
        return 0

    def waiting(channel, name: str) -> int:
        try:
            return channel.queue_declare(queue=name, passive=True).message_count
        except ChannelError:  # kombu's Redis and filesystem queues: none there (Redis drops an empty list)
            return 0

    try:
        with current_app.connection_for_read() as conn:
            conn.ensure_connection(max_retries=1)
            return sum(waiting(conn.default_channel, name) for name in current_app.amqp.queues)
    except Exception as error:  # noqa: BLE001 - any broker failure: unknown
        log.warning("outbox: the broker's queues could not be measured: %s", error)
        return None


def confirm_wait() -> int:
    """How long a hand-over waits for its receipts before it counts as lost. With the queues empty
    nothing handed over is still waiting its turn: `OUTBOX_CONFIRM_SECONDS` (a minute: with the
    reconciler every 30 seconds, work a killed worker took is done again within two minutes). With
    messages queued (or the broker unmeasured) the event may just be waiting behind a backlog, and
    handing it over again would only lengthen it: `OUTBOX_BACKLOG_CONFIRM_SECONDS`."""
    backlog = broker_backlog()
    return settings.OUTBOX_CONFIRM_SECONDS if backlog == 0 else settings.OUTBOX_BACKLOG_CONFIRM_SECONDS


def reconcile(*, batch_size: int = 500, confirm_seconds: float | None = None) -> int:
    """Hand over again the events whose awaited consumers still have no receipt `confirm_wait()`
    seconds after the hand-over (or their last `alive()`): the broker lost them.
    Events whose consumers all confirmed stop being awaited. Returns how many were handed over
    again; stops at a broker error. An event handed over `OUTBOX_RESEND_LIMIT` times stays
    awaiting, with its last error, for an operator (and is purged with the others)."""
    flush_marks()
    wait = confirm_wait() if confirm_seconds is None else confirm_seconds
    cutoff = timezone.now() - timedelta(seconds=wait)
    resent, seen = 0, set()
    while True:
        taken, handed, broker_down = _reconcile_batch(cutoff, batch_size, seen)
        resent += handed
        if broker_down or taken < batch_size:
            return resent


def _reconcile_batch(cutoff, batch_size: int, seen: set) -> tuple[int, int, bool]:
    """One batch of `reconcile`: (rows taken, handed over again, whether the broker failed)."""
    from core.models import OutboxEvent

    with transaction.atomic():
        events = list(
            OutboxEvent.objects.select_for_update(skip_locked=True)
            .filter(awaiting__isnull=False, sent_at__lte=cutoff, attempts__lt=settings.OUTBOX_RESEND_LIMIT)
            .exclude(pk__in=seen)
            .order_by("sent_at")[:batch_size]
        )
        seen.update(e.pk for e in events)
        missing = _missing(events)
        OutboxEvent.objects.filter(pk__in=[e.pk for e in events if not missing[e.pk]]).update(awaiting=None)
        lost = [e for e in events if missing[e.pk]]
        for event in lost:
            log.warning(
                "outbox: %s (%s) has no receipt from %s: handed over again", event.id, event.type, missing[event.pk]
            )
        done, failed, broker_down = _dispatch(lost)
        at = timezone.now()
        for event in lost:
            if event.pk in done:  # still awaited: those the receivers queued again that had no receipt
                again = [c for c in done[event.pk] or () if c in missing[event.pk]]
                OutboxEvent.objects.filter(pk=event.pk).update(
                    sent_at=at,
                    awaiting=again or None,
                    attempts=F("attempts") + 1,
                    last_error=f"handed over again: no receipt from {', '.join(missing[event.pk])}",
                )
            elif event.pk in failed:
                OutboxEvent.objects.filter(pk=event.pk).update(last_error=failed[event.pk][:2000])
    return len(events), len(done), broker_down


def claim(job_type: str, payload: dict, consumer: str):
    """The claim of long work run here and now (a campaign run): a job row, committed at once,
    marked handed over and awaiting `consumer`'s receipt. The work shows it is `alive()` as it
    goes and `confirm()`s at the end; if its worker dies, the reconciler hands the job over again
    (its signal, to the receiver that queues the work) once the claim is stale. Returns its id."""
    from core.models import OutboxEvent

    at = timezone.now()
    event = OutboxEvent(
        id=uuid.uuid4(), type=job_type, occurred_at=at, payload=_json(payload), sent_at=at, awaiting=[consumer]
    )
    signal_for(job_type)  # a registered job: the reconciler must be able to hand it over
    with transaction.atomic():
        event.save(force_insert=True)
    return str(event.id)


def confirmed(consumer: str, event_id) -> bool:
    from core.models import EventReceipt

    return event_id is not None and EventReceipt.objects.filter(consumer=consumer, event_id=event_id).exists()


def alive(event_id) -> None:
    """A long consumer (a campaign run of many batches) is still at work on this event: the
    reconciler waits another `OUTBOX_CONFIRM_SECONDS` from now before handing it over again."""
    from core.models import OutboxEvent

    if event_id is not None:
        OutboxEvent.objects.filter(pk=event_id, awaiting__isnull=False).update(sent_at=timezone.now())


def confirm(consumer: str, event_id) -> bool:
    """The receipt of a consumer whose work cannot be one transaction (`once` is, for the others):
    written when the whole work is committed. Returns False when it was there already."""
    from core.models import EventReceipt

    if event_id is None:
        return False
    try:
        with transaction.atomic():
            EventReceipt.objects.create(consumer=consumer, event_id=event_id)
    except IntegrityError:
        return False
    return True


def pending_count() -> int:
    """Events not marked sent (after this process's own marks are written)."""
    from core.models import OutboxEvent

    flush_marks()
    return OutboxEvent.objects.filter(sent_at__isnull=True).count()


@contextmanager
def once(consumer: str, event_id):
    """`with once("campaigns.welcome", event_id) as first:` — the body runs in one transaction
    with a receipt for (consumer, event); `first` is False when the event was handled already
    (a redelivery), and then the body should do nothing. A body that fails (or a worker killed
    mid-way) rolls back with its receipt, so the redelivery does the whole work. Without an
    event id (a task queued by hand) the body always runs."""
    from core.models import EventReceipt

    with transaction.atomic():
        first = True
        if event_id is not None:
            try:
                with transaction.atomic():
                    EventReceipt.objects.create(consumer=consumer, event_id=event_id)
            except IntegrityError:
                first = False
        yield first


def purge(*, at=None) -> int:
    """Sent jobs after `OUTBOX_KEEP_DAYS`, sent domain events after `EVENT_RETENTION_DAYS` (the event
    feed serves them that long: core.events), receipts after `OUTBOX_RECEIPT_DAYS`."""
    from django.db.models import Q

    from core.models import EventReceipt, OutboxEvent

    at = at or timezone.now()
    jobs_before = at - timedelta(days=settings.OUTBOX_KEEP_DAYS)
    events_before = at - timedelta(days=max(settings.EVENT_RETENTION_DAYS, settings.OUTBOX_KEEP_DAYS))
    events, _ = (
        OutboxEvent.objects.filter(sent_at__isnull=False)
        .filter(Q(occurred_at__lt=events_before) | Q(occurred_at__lt=jobs_before) & ~Q(type__in=list(EVENT_TYPES)))
        .delete()
    )
    receipts, _ = EventReceipt.objects.filter(handled_at__lt=at - timedelta(days=settings.OUTBOX_RECEIPT_DAYS)).delete()
    return events + receipts
