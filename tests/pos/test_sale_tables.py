"""The tables a sale inserts into carry no index that another index already serves (issue 17): an
index whose columns begin another index's columns costs every sale an index entry and serves no
query the longer one does not."""

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db

SALE_TABLES = [
    "pos_sale",
    "membership_purchase",
    "membership_pointsentry",
    "membership_growthentry",
    "membership_outboxevent",
]


@pytest.mark.parametrize("table", SALE_TABLES)
def test_no_index_is_the_beginning_of_another(table):
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, table)
    indexes = {name: tuple(c["columns"]) for name, c in found.items() if (c["index"] or c["unique"]) and c["columns"]}
    redundant = [
        (name, other)
        for name, cols in indexes.items()
        if not found[name]["unique"]
        for other, longer in indexes.items()
        if other != name and len(longer) > len(cols) and longer[: len(cols)] == cols
    ]
    assert not redundant, f"{table}: {redundant}"
