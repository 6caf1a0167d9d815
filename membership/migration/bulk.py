"""Bulk statements of the import: reads by many values at once (one array parameter on PostgreSQL),
inserts planned as COPYs through core.rows and updates, run in order by `BulkWriter.flush`, and
the check of the foreign keys they deferred."""

import json

from django.db import connection

from core import rows


def lookup(model, column: str, values, columns, *, lock: bool = False, using=None) -> list[tuple]:
    """Rows (as tuples of `columns`) of `model` whose `column` is one of `values`: one array
    parameter on PostgreSQL (thousands of IN placeholders cost more to build than to run).
    `using`: the connection to read through (the import's own by default)."""
    values = list(values)
    if not values:
        return []
    conn = connection if using is None else using
    if conn.vendor != "postgresql":
        queryset = model.objects.select_for_update() if lock else model.objects
        return list(queryset.filter(**{f"{column}__in": values}).values_list(*columns))
    q = conn.ops.quote_name
    with conn.cursor() as cur:
        cur.execute(
            f"SELECT {', '.join(q(c) for c in columns)} FROM {q(model._meta.db_table)}"  # nosec B608
            f" WHERE {q(column)} = ANY(%s){' FOR UPDATE' if lock else ''}",
            [values],
        )
        return cur.fetchall()


class BulkWriter:
    """Insert rows given as dicts of column values: COPY on PostgreSQL, bulk_create elsewhere. Ids of
    new members are reserved up front so that the other rows can point at them. On PostgreSQL the
    statements are planned (the rows made into COPY tuples here) and run, in order, by `flush`;
    elsewhere they run at once."""

    def __init__(self):
        self.postgres = connection.vendor == "postgresql"
        self.planned: list = []

    def then(self, statement, *args, **kwargs) -> None:
        """A statement to run after the inserts planned so far (at once, off PostgreSQL)."""
        if self.postgres:
            self.planned.append((statement, args, kwargs))
        else:
            statement(*args, **kwargs)

    def flush(self) -> None:
        planned, self.planned = self.planned, []
        for statement, args, kwargs in planned:
            statement(*args, **kwargs)

    def reserve_ids(self, model, count: int, using=None) -> list[int]:
        if not count:
            return []
        table = model._meta.db_table
        with (connection if using is None else using).cursor() as cur:
            if self.postgres:
                cur.execute(
                    "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", [table, count]
                )
                return [r[0] for r in cur.fetchall()]
            cur.execute(f'SELECT COALESCE(MAX(id), 0) FROM "{table}"')  # SQLite: the write lock is ours  # nosec B608
            start = cur.fetchone()[0] + 1
            return list(range(start, start + count))

    def insert(self, model, values: list[dict]) -> None:
        if not values:
            return
        if not self.postgres:
            model.objects.bulk_create([model(**row) for row in values], batch_size=500)
            return
        columns = list(values[0])
        names = ", ".join(
            connection.ops.quote_name(model._meta.get_field(c).column if not c.endswith("_id") else c) for c in columns
        )
        json_columns = {c for c in columns if c == "data"}
        full = _defaults(model)
        extra = [c for c in full if c not in columns]
        names_all = names + "".join(", " + connection.ops.quote_name(c) for c in extra)
        tail = tuple(full[c] for c in extra)
        table = connection.ops.quote_name(model._meta.db_table)
        if json_columns:
            tuples = [
                tuple(json.dumps(row[c], ensure_ascii=False) if c in json_columns else row[c] for c in columns) + tail
                for row in values
            ]
        else:
            tuples = [tuple(map(row.__getitem__, columns)) + tail for row in values]
        self.planned.append((rows.copy, (f"COPY {table} ({names_all}) FROM STDIN", tuples), {}))


def _defaults(model) -> dict:
    """Column defaults the database does not know (Django applies them): every NOT NULL column with a
    Python default."""
    out = {}
    for f in model._meta.concrete_fields:
        if f.primary_key:
            continue
        if f.has_default() and not f.null:
            out[f.column] = f.get_default()
        elif getattr(f, "blank", False) and not f.null and f.get_internal_type() in ("CharField", "TextField"):
            out[f.column] = ""
    return out


def check_deferred_foreign_keys(conn) -> None:
    """Check now the foreign keys of the rows written so far in the transaction (queued until COMMIT
    otherwise), so that a batch's checks run with its write rather than all at the end."""
    with conn.cursor() as cur:
        cur.execute("SET CONSTRAINTS ALL IMMEDIATE")  # checks the foreign keys the batch queued
        cur.execute("SET CONSTRAINTS ALL DEFERRED")  # Django's foreign keys are initially deferred
