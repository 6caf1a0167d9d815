"""Database expressions of our own."""

from django.db.models import BigIntegerField, Func


class CurrentTransactionId(Func):
    """The id of the transaction that inserts the row, as a column's database default: on PostgreSQL
    `pg_current_xact_id()` (64 bits, never wraps); elsewhere NULL (SQLite runs one writer at a time,
    so its rowid is already in commit order). The event feed (core.events) reads events in the order
    of these ids and only below the oldest running transaction, so an event committed late is never
    passed over."""

    arity = 0
    output_field = BigIntegerField()

    def as_sql(self, compiler, connection, **extra_context):
        return "NULL", []

    def as_postgresql(self, compiler, connection, **extra_context):
        return "(pg_current_xact_id()::text::bigint)", []
