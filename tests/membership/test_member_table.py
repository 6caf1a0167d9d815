"""The member row under a sale's update (issue 17): no index on a column a sale writes, room in each
page, and so a HOT update (a new row version in the same page, no index entry written)."""

import pytest
from django.db import connection

from membership.models import Member
from membership.services.purchases import PURCHASE_FIELDS

pytestmark = pytest.mark.django_db

# the tier changes only on an upgrade; its foreign key keeps its index (members by tier)
SALE_COLUMNS = {Member._meta.get_field(name).column for name in PURCHASE_FIELDS} - {"tier_id"}


def member_indexes() -> dict:
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, Member._meta.db_table)
    return {name: c["columns"] for name, c in found.items() if c["index"] or c["unique"]}


def test_no_index_covers_a_column_a_sale_writes():
    indexed = {name: cols for name, cols in member_indexes().items() if SALE_COLUMNS & set(cols)}
    assert not indexed, f"a sale's balance update could not be HOT: {indexed}"


def test_the_tier_and_the_home_store_have_one_index_each():
    leading = [cols[0] for cols in member_indexes().values() if cols]
    assert leading.count("tier_id") == 1 and leading.count("home_store_id") == 1


def hot_counts():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_stat_get_xact_tuples_updated(%s::regclass), pg_stat_get_xact_tuples_hot_updated(%s::regclass)",
            [Member._meta.db_table] * 2,
        )
        return cursor.fetchone()


@pytest.mark.postgres
def test_the_member_table_leaves_room_for_hot_updates(on_postgres):
    with connection.cursor() as cursor:
        cursor.execute("SELECT reloptions FROM pg_class WHERE relname = %s", [Member._meta.db_table])
        assert "fillfactor=90" in (cursor.fetchone()[0] or [])
        cursor.execute(
            "SELECT count(*) FROM pg_indexes WHERE tablename = %s AND indexdef LIKE '%%varchar_pattern_ops%%'",
            [Member._meta.db_table],
        )
        assert cursor.fetchone()[0] == 0


@pytest.mark.postgres
def test_a_sale_updates_the_member_row_hot(on_postgres, enrol, buy):
    """pg_stat_get_xact_tuples_hot_updated counts this transaction's HOT updates (PostgreSQL 15)."""
    member = enrol()
    buy(member, "100.00")  # the member's first purchase (last_purchase_at from NULL)
    updated, hot = hot_counts()
    result = buy(member, "88.00")
    assert result.points_earned == 88
    updated_after, hot_after = hot_counts()
    assert updated_after - updated == 1  # the sale updates the member row once
    assert hot_after - hot == 1, "the member's balance update was not a HOT update"
    assert Member.objects.get(pk=member.pk).purchase_count == 2
