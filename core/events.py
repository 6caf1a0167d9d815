"""Events out (../shared/spec/events.md): the public envelope of the outbox's domain events and the
event feed that other systems follow with a cursor.

An event is published when its type is a registered domain event (`outbox.register_event`) and its
payload carries `data`, the public fields the catalogue names (the rest of the payload is for the
portal's own receivers). The outbox row is the event: written in the transaction of the change, so
it exists exactly when the change committed.

The feed's order is the inserting transaction's id, then the event's time and id (PostgreSQL: the
column `txid`, `pg_current_xact_id()` by default). Transactions commit out of the order of their
ids, so a page holds only events of transactions older than every transaction still running
(`pg_snapshot_xmin`): no event can later appear below a cursor already given out, and a follower
sees each event once, in one order. On SQLite, one writer at a time, the rowid is that order."""

import base64
import binascii
import uuid
from datetime import datetime

from django.db import connection
from django.db.models import Q
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext as _

from core import outbox
from core.errors import Invalid

API_VERSION = "2026-12"
MAX_LIMIT = 500


def published_types() -> list[str]:
    return sorted(outbox.EVENT_TYPES)


def published():
    """The published events: a registered domain event's type and public `data` in the payload (the
    one rule, for the feed and for the webhooks' replay)."""
    from core.models import OutboxEvent

    return OutboxEvent.objects.filter(type__in=published_types(), payload__has_key="data")


def envelope(event) -> dict:
    """The event as webhooks send it and the feed lists it."""
    return {
        "id": str(event.id),
        "type": event.type,
        "created": timezone.localtime(event.occurred_at).isoformat(timespec="milliseconds"),
        "api_version": API_VERSION,
        "data": event.payload["data"],
    }


# --- the feed ------------------------------------------------------------------------------------


def _postgres() -> bool:
    return connection.vendor == "postgresql"


def _encode(*parts) -> str:
    return base64.urlsafe_b64encode("|".join(map(str, parts)).encode()).decode().rstrip("=")


def _decode(cursor: str) -> tuple:
    """The position a cursor names: ("p", txid, time, id) on PostgreSQL, ("s", rowid) on SQLite."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, *rest = text.split("|")
        if kind == "p" and _postgres():
            return kind, int(rest[0]), datetime.fromisoformat(rest[1]), uuid.UUID(rest[2])
        if kind == "s" and not _postgres():
            return kind, int(rest[0])
    except (binascii.Error, UnicodeDecodeError, ValueError, IndexError):
        pass
    raise Invalid(_("This cursor is not one the feed gave out."), field="after")


def _cursor_of(event) -> str:
    if _postgres():
        return _encode("p", event.txid, event.occurred_at.isoformat(), event.id)
    return _encode("s", event.seq)


def _ordered():
    """Published events in the feed's order, of finished transactions only."""
    events = published()
    if _postgres():
        horizon = RawSQL("pg_snapshot_xmin(pg_current_snapshot())::text::bigint", ())
        return events.filter(txid__isnull=False, txid__lt=horizon).order_by("txid", "occurred_at", "id")
    return events.annotate(seq=RawSQL("membership_outboxevent.rowid", ())).order_by("seq")


def _after(events, position: tuple):
    if position[0] == "s":
        return events.filter(seq__gt=position[1])
    _, txid, at, event_id = position
    return events.filter(
        Q(txid__gt=txid) | Q(txid=txid, occurred_at__gt=at) | Q(txid=txid, occurred_at=at, id__gt=event_id)
    )


def _limit(value) -> int:
    if value in (None, ""):
        return 100
    try:
        limit = int(value)
    except (TypeError, ValueError):
        limit = 0
    if not 1 <= limit <= MAX_LIMIT:
        raise Invalid(_("limit is a whole number from 1 to %(max)s.") % {"max": MAX_LIMIT}, field="limit")
    return limit


def follow(*, after: str | None = None, event_type: str | None = None, limit: int | str | None = None):
    """(up to `limit` published events after the cursor `after`, oldest first, the next cursor): the
    feed's rows, for the API's page and for the portal's own followers (the webhooks' fan-out)."""
    limit = _limit(limit)
    if event_type is not None and event_type not in outbox.EVENT_TYPES:
        raise Invalid(_("Unknown event type: %(type)s.") % {"type": event_type}, field="type")
    events = _ordered()
    if after:
        events = _after(events, _decode(after))
    if event_type:
        events = events.filter(type=event_type)
    rows = list(events[:limit])
    return rows, (_cursor_of(rows[-1]) if rows else (after or None))


def page(*, after: str | None = None, event_type: str | None = None, limit: int | str | None = None) -> dict:
    """`{"results": [envelope, …], "next_cursor": …}`: up to `limit` events after the cursor `after`
    (from the oldest kept without it), oldest first, optionally of one type. `next_cursor` names the
    last event given (the same cursor when there is nothing new; null before the first event)."""
    rows, cursor = follow(after=after, event_type=event_type, limit=limit)
    return {"results": [envelope(e) for e in rows], "next_cursor": cursor}
