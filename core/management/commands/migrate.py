"""`manage.py migrate`, Django's, with a lock timeout on PostgreSQL (issue 30): a migration whose
ALTER waits behind a long transaction holds every later query on that table in the queue behind it,
so the tills stall. With `MIGRATION_LOCK_TIMEOUT` seconds (default 5) a lock not granted in time gives
up, the migration rolls back (each changes one table, in one transaction) and is tried again after a
pause, `MIGRATION_LOCK_RETRIES` times (default 10); then the command fails, saying which lock.
Run it against PostgreSQL directly, not through PgBouncer (the timeout is the session's)."""

import time

from django.conf import settings
from django.core.management.base import CommandError
from django.core.management.commands.migrate import Command as DjangoMigrate
from django.db import OperationalError, connections


class Command(DjangoMigrate):
    def handle(self, *args, **options):
        connection = connections[options["database"]]
        timeout = getattr(settings, "MIGRATION_LOCK_TIMEOUT", 5)
        if connection.vendor != "postgresql" or not timeout:
            return super().handle(*args, **options)
        tries = max(1, getattr(settings, "MIGRATION_LOCK_RETRIES", 10))
        for attempt in range(1, tries + 1):
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT set_config('lock_timeout', %s, false)", [f"{int(timeout * 1000)}ms"])
                return super().handle(*args, **options)
            except OperationalError as exc:
                if getattr(exc.__cause__, "sqlstate", None) != "55P03":  # lock_not_available
                    raise
                if attempt == tries:
                    raise CommandError(
                        f"a table stayed locked by another transaction {tries} times for {timeout} s: {exc}"
                    ) from exc
                pause = min(30, 2 * attempt)
                self.stderr.write(f"migrate: a lock was not granted within {timeout} s ({exc}); again in {pause} s")
                time.sleep(pause)
            finally:
                if connection.connection is not None and not connection.needs_rollback:
                    with connection.cursor() as cursor:
                        cursor.execute("RESET lock_timeout")
