"""The database: SQLite in WAL mode by default (the embedded demo), PostgreSQL from DATABASE_URL."""

from django.core.exceptions import ImproperlyConfigured

from .base import VAR_DIR, env

# --- database -------------------------------------------------------------------------
VAR_DIR.mkdir(parents=True, exist_ok=True)
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'portal.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server, the worker and beat read while one of them writes;
    # IMMEDIATE takes the write lock at BEGIN so two writers queue instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
    # migrate gives up a lock not granted in this many seconds and tries again (core's migrate command)
    MIGRATION_LOCK_TIMEOUT = env.float("MIGRATION_LOCK_TIMEOUT", default=5)
    MIGRATION_LOCK_RETRIES = env.int("MIGRATION_LOCK_RETRIES", default=10)
    # DATABASE_POOLER=pgbouncer: the connections go through PgBouncer in transaction mode, where each
    # transaction may run on another server connection. Then nothing may outlive a transaction on the
    # server: no prepared statement (another client's would collide with ours) and no cursor held
    # across transactions (Django's .iterator() outside atomic() fetches in later transactions), so
    # .iterator() fetches its chunks client-side.
    DATABASE_POOLER = env.str("DATABASE_POOLER", default="").strip().lower()
    if DATABASE_POOLER not in ("", "pgbouncer"):
        raise ImproperlyConfigured(f"DATABASE_POOLER={DATABASE_POOLER!r}: leave it empty or set pgbouncer")
    _behind_pgbouncer = DATABASE_POOLER == "pgbouncer"
    DATABASES["default"].setdefault("DISABLE_SERVER_SIDE_CURSORS", _behind_pgbouncer)
    # Server-side binding lets psycopg prepare the statements a connection repeats (each sale's
    # dozen): PostgreSQL parses and plans them once. Off by default behind PgBouncer; turn it back on
    # (DB_SERVER_SIDE_BINDING=1) only with PgBouncer 1.21+ and max_prepared_statements set.
    _options = DATABASES["default"].setdefault("OPTIONS", {})
    if env.bool("DB_SERVER_SIDE_BINDING", default=not _behind_pgbouncer):
        _options.update(server_side_binding=True, prepare_threshold=5)
    else:
        _options.update(server_side_binding=False, prepare_threshold=None)  # psycopg prepares nothing
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
