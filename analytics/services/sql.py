"""What the roll-ups' raw SQL shares: table names, datetime parameters, work_mem, and the record of a run."""

import time
from datetime import date

from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone

from ..models import RollupRun


def table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def dt(value):
    """A datetime as a parameter of raw SQL on this database (naive UTC text on SQLite)."""
    return connection.ops.adapt_datetimefield_value(value)


def work_mem(cursor) -> None:
    """On PostgreSQL, give the big aggregations of this transaction room to hash in memory."""
    if connection.vendor == "postgresql":
        cursor.execute(
            "SELECT set_config('work_mem', %s, true)", [getattr(django_settings, "ANALYTICS_WORK_MEM", "256MB")]
        )


def record_run(kind: str, day: date, started: float, rows: int) -> None:
    RollupRun.objects.update_or_create(
        kind=kind,
        day=day,
        defaults={"finished_at": timezone.now(), "seconds": round(time.perf_counter() - started, 3), "rows": rows},
    )
