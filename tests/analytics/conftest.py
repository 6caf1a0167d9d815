"""Small known histories for the analytics figures, built through the till's own services."""

import itertools
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

SH = ZoneInfo("Asia/Shanghai")


def sh(y, m, d, hh=12, mm=0, ss=0):
    """An instant in Asia/Shanghai local time."""
    return datetime(y, m, d, hh, mm, ss, tzinfo=SH)


@pytest.fixture
def shop(program, demo_staff):
    """The till of the demo stores: join(), sell(), refund(), top_up() at chosen (past) times."""
    from membership.models import Store
    from membership.services import enrolment, stored_value
    from pos.services import sales

    stores = {s.code: s for s in Store.objects.all()}
    staff = demo_staff
    numbers = itertools.count(1)
    default_clerk = {"S001": "clerk1", "S002": "clerk2"}

    class Shop:
        def join(self, at, store="S001", clerk=None, **kwargs):
            n = next(numbers)
            clerk = staff[clerk or default_clerk[store]]
            return enrolment.enrol(
                phone=kwargs.pop("phone", f"1371{n:07d}"),
                store=stores[store],
                acting_user=clerk,
                joined_at=at,
                **kwargs,
            )

        def sell(self, amount, at, store="S001", member=None, clerk=None, **kwargs):
            n = next(numbers)
            receipt = f"T{n:05d}"
            outcome = sales.record_sale(
                store=stores[store],
                clerk=staff[clerk or default_clerk[store]],
                receipt_no=receipt,
                amount=Decimal(str(amount)),
                member=member,
                digest=sales.request_hash({"t": receipt}),
                at=at,
                **kwargs,
            )
            return outcome.record

        def refund(self, sale, amount, at, store=None, clerk=None):
            n = next(numbers)
            store = store or sale.store.code
            outcome = sales.record_return(
                sale=sale,
                store=stores[store],
                clerk=staff[clerk or default_clerk[store]],
                receipt_no=f"RT{n:05d}",
                amount=Decimal(str(amount)),
                digest=sales.request_hash({"r": n}),
                at=at,
            )
            return outcome.record

        def top_up(self, member, amount, at, store="S001", plan=None):
            return stored_value.top_up(
                member=member,
                amount=Decimal(str(amount)),
                plan_code=plan,
                store=stores[store],
                acting_user=staff[default_clerk[store]],
                at=at,
            )

        def store(self, code):
            return stores[code]

    return Shop()
