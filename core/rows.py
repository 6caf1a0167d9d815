"""One row written or locked by hand, for the sale's path (issue 17): what `Model.save()`,
`save(update_fields=…)` and `select_for_update().get(pk=…)` send, without building the statement
each time. The SQL is made once per model (and set of columns) from the model's own fields, and
values go through the fields' own `pre_save` / `get_db_prep_save` and database converters, so a
field added to a model is written and read here as by the ORM, on SQLite and PostgreSQL alike.

No pre_save/post_save signals are sent: use these only for models with no receivers (a test holds
that for the models written here). The ORM cost about 190 µs of Python for an insert of a sale's
rows against about 60 µs for this (bench/bench_outbox.py, bench/profile_sale.py)."""

from functools import cache

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.models import NOT_PROVIDED
from django.db.transaction import TransactionManagementError

# the models written through this module; tests/membership/test_rows.py asserts they have no
# pre_save/post_save receivers (which these functions do not send)
WRITTEN_BY_HAND = (
    "membership.Member",
    "membership.Purchase",
    "membership.PointsEntry",
    "membership.GrowthEntry",
    "core.OutboxEvent",
    "pos.Sale",
    "campaigns.SceneGrant",
)


def _db():
    """The default database's connection object itself: each use of django.db.connection (a proxy)
    looks the connection up again, a few µs, and a row's fields use it a dozen times."""
    return connections[DEFAULT_DB_ALIAS]


def _quote(name: str) -> str:
    return _db().ops.quote_name(name)


def _written(meta) -> list:
    """The columns an insert names: all but those the database alone fills (a `db_default` without a
    Python default, such as the outbox's transaction id), which it leaves to their default."""
    return [f for f in meta.local_concrete_fields if f.has_default() or f.db_default is NOT_PROVIDED]


@cache
def _insert_sql(model, vendor: str, returning: bool) -> tuple[str, list]:
    meta, connection = model._meta, _db()
    fields = [f for f in _written(meta) if not returning or f is not meta.auto_field]
    sql = (
        f"INSERT INTO {_quote(meta.db_table)} ({', '.join(_quote(f.column) for f in fields)}) "  # nosec B608
        f"VALUES ({', '.join(['%s'] * len(fields))})"
    )
    if returning and connection.features.can_return_columns_from_insert:
        sql += f" RETURNING {_quote(meta.pk.column)}"
    return sql, fields


def insert(obj):
    """INSERT the new instance `obj` as `obj.save()` would (auto_now_add set, defaults as built,
    the primary key read back when the database assigns it); returns `obj`, now saved."""
    connection = _db()
    returning = obj.pk is None
    sql, fields = _insert_sql(type(obj), connection.vendor, returning)
    params = [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if returning:
            if connection.features.can_return_columns_from_insert:
                pk = cursor.fetchone()[0]
            else:  # pragma: no cover (SQLite before 3.35)
                pk = connection.ops.last_insert_id(cursor, obj._meta.db_table, obj._meta.pk.column)
            obj.pk = pk
    obj._state.adding, obj._state.db = False, connection.alias
    return obj


@cache
def _copy_plan(model, vendor: str) -> tuple[str, list, list]:
    """COPY's statement for every column but an automatic primary key, each column's attribute, and
    the columns whose value is not the attribute as it is (COPY's adapter takes ints, text, Decimal,
    aware datetimes, dates and UUIDs as the ORM would send them): through `pre_save` where Django sets
    it (auto_now), through `get_db_prep_save` where the database needs the field's own form (JSON)."""
    meta = model._meta
    fields = [f for f in _written(meta) if f is not meta.auto_field]
    sql = f"COPY {_quote(meta.db_table)} ({', '.join(_quote(f.column) for f in fields)}) FROM STDIN"
    prepared = []
    for i, f in enumerate(fields):
        auto_now = getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
        if auto_now or f.get_internal_type() == "JSONField":
            prepared.append((i, f, auto_now))
    return sql, [f.attname for f in fields], prepared


def insert_many(objs: list) -> None:
    """INSERT new instances of one model, as `bulk_create` does but without reading their ids back:
    one COPY on PostgreSQL (no statement built per row: a campaign batch's thousand grants and lots),
    `bulk_create` elsewhere. For rows nothing reads by id: on PostgreSQL the instances keep no id."""
    if not objs:
        return
    connection = _db()
    if connection.vendor != "postgresql":
        type(objs[0]).objects.bulk_create(objs)
        return
    sql, attnames, prepared = _copy_plan(type(objs[0]), connection.vendor)

    def values(obj) -> list:
        row = [getattr(obj, a) for a in attnames]
        for i, field, auto_now in prepared:
            row[i] = field.pre_save(obj, True) if auto_now else field.get_db_prep_save(row[i], connection)
        return row

    copy(sql, map(values, objs))


def copy(sql: str, values) -> None:
    """Run a COPY … FROM STDIN (PostgreSQL) with these rows of column values."""
    with _db().cursor() as cursor, cursor.cursor.copy(sql) as stream:
        for row in values:
            stream.write_row(row)


@cache
def _update_sql(model, vendor: str, names: tuple[str, ...]) -> tuple[str, list]:
    meta = model._meta
    fields = [meta.get_field(name) for name in names]
    assignments = ", ".join(f"{_quote(f.column)} = %s" for f in fields)
    return f"UPDATE {_quote(meta.db_table)} SET {assignments} WHERE {_quote(meta.pk.column)} = %s", fields  # nosec B608


def update(obj, names) -> None:
    """UPDATE the columns `names` (field names, as save's update_fields) of the saved instance `obj`;
    like `save(update_fields=…)`, a row that is not there is an error."""
    connection = _db()
    sql, fields = _update_sql(type(obj), connection.vendor, tuple(names))
    params = [f.get_db_prep_save(f.pre_save(obj, False), connection) for f in fields]
    params.append(obj._meta.pk.get_db_prep_value(obj.pk, connection))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if cursor.rowcount == 0:
            raise DatabaseError("Save with update_fields did not affect any rows.")


@cache
def _lock_sql(model, vendor: str, names: tuple[str, ...]) -> tuple[str, list, list, list]:
    meta, connection = model._meta, _db()
    fields = list(meta.concrete_fields)
    keys = [meta.pk if name == "pk" else meta.get_field(name) for name in names]
    columns = ", ".join(f"{_quote(meta.db_table)}.{_quote(f.column)}" for f in fields)
    where = " AND ".join(f"{_quote(f.column)} = %s" for f in keys)
    sql = f"SELECT {columns} FROM {_quote(meta.db_table)} WHERE {where}"  # nosec B608
    if connection.features.has_select_for_update:
        sql += " " + connection.ops.for_update_sql(no_key=connection.features.has_select_for_no_key_update)
    converters = []
    for i, field in enumerate(fields):
        col = field.get_col(meta.db_table)
        found = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
        if found:
            converters.append((i, col, found))
    return sql, keys, [f.attname for f in fields], converters


def lock(model, pk=None, **where):
    """The row of `model` with primary key `pk` (or whose fields equal `where`: a unique key), locked
    for the rest of the transaction as `select_for_update(no_key=True).get(…)` locks it (FOR NO KEY
    UPDATE where the database has row locks), every field loaded; None when there is no such row."""
    connection = _db()
    if connection.get_autocommit():  # as the ORM's select_for_update
        raise TransactionManagementError("select_for_update cannot be used outside of a transaction.")
    if pk is not None:
        where = {"pk": pk, **where}
    sql, keys, attnames, converters = _lock_sql(model, connection.vendor, tuple(where))
    params = [f.get_db_prep_value(v, connection) for f, v in zip(keys, where.values(), strict=True)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    values = list(row)
    for i, col, found in converters:
        for converter in found:
            values[i] = converter(values[i], col, connection)
    return model.from_db(connection.alias, attnames, values)
