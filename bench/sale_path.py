"""The way a till sale walks through the code (issue 27): for a plain, a coupon and a stored-value API
sale of a warm process, the application files it passes through, its stops (a call from one
application file into another: every time the sale's control enters a file, counted on the call;
a stop "re-enters" when that file was entered before in the same sale), the statements that read or
lock the member's row, and the PIN hashes checked.

    DATABASE_URL=postgres://postgres:postgres@127.0.0.1:5432/bench_path \\
        .venv/bin/python -m bench.sale_path [--calls]

The script makes its own test database (test_<name>, dropped at the end) with the demo program
(demo-program.md): clerk1 at S001, a member enrolled through the API (so WELCOME10 is granted), a
¥500 top-up and a PIN. `--calls` also prints each stop in order."""

import argparse
import sys
from collections import Counter
from pathlib import Path

from .common import say, setup_django

ROOT = Path(__file__).resolve().parents[1]
APPS = ("core", "membership", "campaigns", "pos", "analytics", "memberweb", "portal")


def app_file(filename: str) -> str | None:
    """The application file (relative path) a code object belongs to, or None (libraries, tests)."""
    path = Path(filename)
    if not path.is_absolute() or ROOT not in path.parents:
        return None
    rel = path.relative_to(ROOT)
    if rel.parts[0] not in APPS or "migrations" in rel.parts:
        return None
    return str(rel)


class Walk:
    """A sys.setprofile hook that records the application files a call passes through."""

    def __init__(self):
        self.stops: list[tuple[str, str]] = []  # (file, function) entered from another file
        self.calls = 0  # every call into another file, repeats included
        self.last = None

    def __call__(self, frame, event, arg):
        if event != "call":
            return
        here = app_file(frame.f_code.co_filename)
        if here is None:
            return
        caller = frame.f_back
        while caller is not None and app_file(caller.f_code.co_filename) is None:
            caller = caller.f_back
        if caller is None or app_file(caller.f_code.co_filename) != here:
            self.calls += 1
            # a frame calling into the same file again, with no other stop between: one stop (a
            # function formatting eight amounts with one helper walks there once, not eight times)
            step = (id(caller), here)
            if step != self.last:
                self.stops.append((here, frame.f_code.co_name))
            self.last = step

    def figures(self) -> dict:
        seen, reentries = set(), 0
        for file, _name in self.stops:
            reentries += file in seen
            seen.add(file)
        return {"files": len(seen), "stops": len(self.stops), "re-entering": reentries, "calls across": self.calls}


def member_statements(sql: list[str]) -> tuple[int, int]:
    """(reads, locks) of the member's row among a sale's statements."""
    reads = locks = 0
    for statement in sql:
        if statement.startswith("SELECT") and 'FROM "membership_member"' in statement:
            if "FOR UPDATE" in statement or "FOR NO KEY UPDATE" in statement:
                locks += 1
            else:
                reads += 1
    return reads, locks


def prepare():
    from rest_framework.test import APIClient

    from campaigns.demo import seed as seed_campaigns
    from membership.demo import seed_program, seed_stores_and_staff
    from membership.models import Member
    from membership.services import stored_value

    seed_stores_and_staff()
    seed_program()
    seed_campaigns()
    clerk = APIClient()
    token = clerk.post("/api/v1/auth/token/", {"username": "clerk1", "password": "clerk1-demo"}, format="json")  # nosec B105
    clerk.credentials(HTTP_AUTHORIZATION=f"Token {token.json()['token']}")
    assert clerk.post("/api/v1/members/", {"phone": "13800138000"}, format="json").status_code == 201  # nosec B101
    member = Member.objects.get(phone="13800138000")
    stored_value.top_up(member=member, amount="500.00", idempotency_key="sale-path-topup")
    stored_value.set_pin(member=member, pin="135790")
    return clerk, member


def walk_sale(clerk, body: dict, show: bool) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from membership.services import stored_value

    checked = Counter()
    original = stored_value.check_password

    def counting(password, encoded, *args, **kwargs):
        checked["pin"] += 1
        return original(password, encoded, *args, **kwargs)

    stored_value.check_password = counting
    walk = Walk()
    try:
        with CaptureQueriesContext(connection) as queries:
            sys.setprofile(walk)
            try:
                response = clerk.post("/api/v1/sales/", body, format="json")
            finally:
                sys.setprofile(None)
    finally:
        stored_value.check_password = original
    assert response.status_code == 201, response.content  # nosec B101
    sql = [q["sql"] for q in queries.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))]
    reads, locks = member_statements(sql)
    if show:
        for file, name in walk.stops:
            say(f"      {file}:{name}")
    return {**walk.figures(), "member reads": reads, "member locks": locks, "PIN checks": checked["pin"],
            "statements": len(sql)}  # fmt: skip


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", action="store_true", help="print each stop in order")
    args = parser.parse_args(argv)
    setup_django()
    from django.db import connection
    from django.test.utils import setup_test_environment

    from campaigns.models import Coupon

    setup_test_environment()
    name = connection.creation.create_test_db(verbosity=0)
    try:
        clerk, member = prepare()
        warm = {"receipt_no": "WARM", "member": member.member_no, "amount": "10.00"}
        assert clerk.post("/api/v1/sales/", warm, format="json").status_code == 201  # nosec B101
        coupon = Coupon.objects.get(member=member, template__code="WELCOME10")
        sales = {
            "plain": {"receipt_no": "P-1", "member": member.member_no, "amount": "88.00"},
            "coupon": {"receipt_no": "C-1", "member": member.member_no, "amount": "88.00", "coupon_code": coupon.code},
            "stored value": {
                "receipt_no": "S-1",
                "member": member.member_no,
                "amount": "88.00",
                "pay_stored_value": "50.00",
                "pin": "135790",
            },
        }
        say(f"sale path on {connection.vendor} ({name})")
        for label, body in sales.items():
            figures = walk_sale(clerk, body, args.calls)
            say(f"  {label:13} " + " · ".join(f"{k} {v}" for k, v in figures.items()))
    finally:
        connection.creation.destroy_test_db(name, verbosity=0)


if __name__ == "__main__":
    main()
