"""The scope of a dashboard (period, previous period, store), the tables the pages show and the
exports write, and the freshness of the roll-ups."""

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from functools import cached_property

from django.db.models import Max, Q

from membership.models import Store, StoreTree

from ..models import RollupRun

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Scope:
    start: date
    end: date
    store: Store | None = None
    ids: tuple | None = field(default=None, compare=False)  # the store's subtree, when known
    window: int = 90  # days of the rolling repurchase rate (definitions.REPURCHASE_WINDOWS)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def prev_end(self) -> date:
        return self.start - timedelta(days=1)

    @property
    def prev_start(self) -> date:
        return self.start - timedelta(days=self.days)

    def previous(self) -> "Scope":
        return Scope(self.prev_start, self.prev_end, self.store, self.store_ids, self.window)

    @cached_property
    def store_ids(self) -> tuple | None:
        """The nodes the scope covers (the store's subtree), None for every store."""
        if self.store is None:
            return None
        return self.ids if self.ids is not None else tuple(self.tree.subtree_ids(self.store.pk))

    @cached_property
    def tree(self) -> StoreTree:
        """The store tree (read once per request: forms.resolve hands over the one it read)."""
        return StoreTree.load()

    @cached_property
    def stats_store(self) -> Store | None:
        """The store of the scope's distinct-member rows (MonthStats, RepurchaseWindow): None, the
        chain's rows, for a root whose subtree is the whole tree."""
        if self.store is None or len(self.store_ids) == 1:
            return self.store
        return None if len(self.store_ids) == len(self.tree.nodes) else self.store

    def stores_q(self, field_name: str = "store") -> Q:
        """Rows of the scope's stores: a region's figures are the sums over its subtree."""
        if self.store is None:
            return Q()
        if len(self.store_ids) == 1:
            return Q(**{field_name: self.store})
        return Q(**{f"{field_name}__in": self.store_ids})


# ---------------------------------------------------------------------------------------------
# tables: what the pages show and the exports write
# ---------------------------------------------------------------------------------------------

INT, MONEY, PCT, RATIO, TEXT, DAY = "int", "money", "pct", "ratio", "text", "day"


@dataclass
class Column:
    key: str
    label: str
    kind: str = INT


@dataclass
class Table:
    name: str
    title: str
    columns: list[Column]
    rows: list[dict] = field(default_factory=list)
    note: str = ""

    def values(self, row: dict) -> list:
        return [row.get(c.key) for c in self.columns]

    def cells(self):
        """[(row, [(kind, value)])] for the templates."""
        return [(row, [(c.kind, row.get(c.key)) for c in self.columns]) for row in self.rows]


# ---------------------------------------------------------------------------------------------
# freshness
# ---------------------------------------------------------------------------------------------


def last_rolled_day() -> date | None:
    return RollupRun.objects.filter(kind="store").aggregate(d=Max("day"))["d"]


def snapshot_day() -> date | None:
    return RollupRun.objects.filter(kind="snapshot").aggregate(d=Max("day"))["d"]
