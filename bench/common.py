"""Shared by the generator and the benchmarks: Django set-up on the bench database, a psycopg
connection string for raw SQL, the fixed dates the data is built around, small helpers."""

import os
import sys
import time
from contextlib import contextmanager
from datetime import datetime
from zoneinfo import ZoneInfo

DEFAULT_DATABASE_URL = "postgres://postgres:postgres@127.0.0.1:5432/bench"
FORBIDDEN_DATABASES = {"portal", "postgres", "template0", "template1"}

SH = ZoneInfo("Asia/Shanghai")
# The generated history runs from HISTORY_START to HISTORY_END (points expire at the end of the
# calendar year after the year earned, the demo program's policy). The year-end run of
# 2026-01-01 has already expired what was earned in 2024; EXPIRY_AT is the next year-end run,
# which expires what is left of the 2025 lots. REVIEW_AT is the monthly tier review of December.
HISTORY_START = datetime(2024, 7, 1, tzinfo=SH)
HISTORY_END = datetime(2026, 11, 22, 22, 0, tzinfo=SH)
PAST_EXPIRY_RUN = datetime(2026, 1, 1, tzinfo=SH)
EXPIRY_AT = datetime(2027, 1, 1, tzinfo=SH)
REVIEW_AT = datetime(2026, 12, 1, tzinfo=SH)

FULL_MEMBERS = 1_000_000
FULL_LOTS = 10_000_000


def setup_django():
    """Point Django at the bench database and set it up. DEBUG is switched off as in production,
    so Django does not keep a log of every query (that would cost time and memory here)."""
    os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    # The services queue Celery tasks after commit (a sale, a tier change). Unless a broker is set
    # on purpose, the benchmarks send them to kombu's in-memory transport, dropped at exit: the
    # project's default broker is the folder var/broker, which the development worker reads, and
    # that worker would act on ids from the bench database.
    broker = os.environ.get("CELERY_BROKER_URL", "")
    if not broker or broker.startswith("filesystem://"):
        os.environ["CELERY_BROKER_URL"] = "memory://"
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    settings.DEBUG = False
    import logging

    logging.getLogger("kombu.connection").setLevel(logging.ERROR)  # "no hostname" of memory://
    db = settings.DATABASES["default"]
    if connection.vendor != "postgresql":
        sys.exit("bench: DATABASE_URL must point at PostgreSQL (the benchmarks measure PostgreSQL).")
    if db["NAME"] in FORBIDDEN_DATABASES or db["NAME"].startswith("test_"):
        sys.exit(
            f"bench: refusing to work on database {db['NAME']!r}; use a database of its own "
            f"(default {DEFAULT_DATABASE_URL})."
        )
    return db


def conninfo() -> str:
    """libpq connection string of Django's default database (for raw psycopg connections)."""
    from django.conf import settings
    from psycopg.conninfo import make_conninfo

    db = settings.DATABASES["default"]
    return make_conninfo(
        dbname=db["NAME"],
        user=db.get("USER") or None,
        password=db.get("PASSWORD") or None,
        host=db.get("HOST") or None,
        port=str(db.get("PORT") or "") or None,
    )


def raw_connect(**kwargs):
    import psycopg

    return psycopg.connect(conninfo(), **kwargs)


@contextmanager
def timed():
    """with timed() as t: ...; t() is the elapsed seconds (while running and after)."""
    start = time.perf_counter()
    end = []
    yield lambda: (end[0] if end else time.perf_counter()) - start
    end.append(time.perf_counter())


def say(*parts):
    print(*parts, flush=True)


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "n/a"


def checkpoint_and_vacuum(tables, *, analyze=True):
    """Bring the tables to the same physical state before a timed run: dead rows of the previous
    run vacuumed away, statistics fresh, dirty pages written out."""
    with raw_connect(autocommit=True) as conn:
        for table in tables:
            conn.execute(f"VACUUM {'(ANALYZE) ' if analyze else ''}{table}")
        conn.execute("CHECKPOINT")


def _admin_execute(sql: str) -> None:
    """Run CREATE/DROP DATABASE from the server's maintenance database."""
    import psycopg
    from django.conf import settings
    from psycopg.conninfo import make_conninfo

    db = settings.DATABASES["default"]
    info = make_conninfo(
        dbname="postgres",
        user=db.get("USER") or None,
        password=db.get("PASSWORD") or None,
        host=db.get("HOST") or None,
        port=str(db.get("PORT") or "") or None,
    )
    with psycopg.connect(info, autocommit=True) as conn:
        conn.execute(sql)


@contextmanager
def cloned_database(suffix: str):
    """Inside the block Django and raw_connect() work on a fresh copy of the bench database
    (CREATE DATABASE ... TEMPLATE, a file copy of every table, index and statistic), which is
    dropped afterwards. Each timed run of a benchmark that changes data starts from the same
    physical state this way, and the bench database itself stays as generated."""
    from django.conf import settings
    from django.db import connections

    db = settings.DATABASES["default"]
    source = db["NAME"]
    clone = f"{source}_{suffix}"
    connections.close_all()
    _admin_execute(f'DROP DATABASE IF EXISTS "{clone}"')
    for attempt in range(10):
        try:
            _admin_execute(f'CREATE DATABASE "{clone}" TEMPLATE "{source}" STRATEGY FILE_COPY')
            break
        except Exception as exc:  # the source may be in use for a moment (e.g. a closing connection)
            if "being accessed by other users" not in str(exc) or attempt == 9:
                raise
            time.sleep(3)
    db["NAME"] = clone
    try:
        yield clone
    finally:
        connections.close_all()
        db["NAME"] = source
        _admin_execute(f'DROP DATABASE IF EXISTS "{clone}"')


def backend_cpu(pid: int) -> float | None:
    """CPU seconds (user + system) used so far by a PostgreSQL backend process, when the server
    runs on this machine and /proc can be read; None otherwise. Other people's work on the
    machine stretches wall-clock times, not this."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def django_backend_cpu() -> float | None:
    """backend_cpu of the backend serving Django's default connection in this process."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        return backend_cpu(cur.fetchone()[0])


def load() -> str:
    """The machine's load average over the last minute (other work on the machine shows here)."""
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except OSError:
        return "n/a"
