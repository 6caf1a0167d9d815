"""Tier review benchmark: membership.services.tiers.review(at=REVIEW_AT, force=True) over every member.

    .venv/bin/python -m bench.bench_review

The December review (rolling 12 months, the demo program's setting) drops the members whose
growth since 2025-12-01 is below their tier's keep threshold. It runs on a fresh copy of the bench
database (CREATE DATABASE ... TEMPLATE), so the bench database keeps its tiers and the benchmark
can be run again on the same data. Printed: members, members the review looked
at (everyone above the lowest tier), changes, seconds, members per second. For scale, the same
decision made by one read-only SQL statement is timed too (it writes nothing)."""

import argparse
import sys

from .common import REVIEW_AT, cloned_database, raw_connect, say, setup_django, timed

MEMBERS = "membership_member"

# Who would change, as one statement (read-only): the highest tier at or below the current one
# whose keep threshold the window's growth meets, never below an active floor.
REVIEW_SQL = f"""
WITH g AS (
    SELECT member_id, sum(amount) AS growth FROM membership_growthentry
    WHERE created_at >= %(start)s AND created_at <= %(at)s GROUP BY member_id
), decided AS (
    SELECT m.id, m.tier_id, (
        SELECT t.id FROM membership_tier t
        WHERE (t.rank <= cur.rank AND (t.keep_growth <= coalesce(g.growth, 0)
                                      OR t.rank = (SELECT min(rank) FROM membership_tier)))
           OR (t.id = m.tier_floor_id AND (m.tier_floor_until IS NULL OR m.tier_floor_until >= %(today)s))
        ORDER BY t.rank DESC LIMIT 1) AS target
    FROM {MEMBERS} m JOIN membership_tier cur ON cur.id = m.tier_id
    LEFT JOIN g ON g.member_id = m.id
    WHERE m.status = 'active' AND cur.rank > (SELECT min(rank) FROM membership_tier)
)
SELECT count(*) FILTER (WHERE target <> tier_id), count(*) FROM decided
"""  # nosec B608


def run() -> dict:
    from django.db import connection

    from membership.models import ProgramSettings
    from membership.services import tiers

    program = ProgramSettings.load()
    start = tiers.window_start(REVIEW_AT, program.review_window)
    connection.close()
    with cloned_database("review") as clone:
        with raw_connect(autocommit=True) as conn:
            total, above = conn.execute(
                f"SELECT count(*), count(*) FILTER (WHERE tier_id <> (SELECT id FROM membership_tier ORDER BY rank"  # nosec B608
                f" LIMIT 1)) FROM {MEMBERS} WHERE status = 'active'"
            ).fetchone()
            with timed() as t_sql:
                would, looked = conn.execute(
                    REVIEW_SQL, {"start": start, "at": REVIEW_AT, "today": REVIEW_AT.date()}
                ).fetchone()
            conn.execute("CHECKPOINT")
        with timed() as t_review:
            changed = tiers.review(at=REVIEW_AT, force=True)
        connection.close()
        say(
            f"review: {total:,} members ({above:,} above the lowest tier) reviewed at {REVIEW_AT:%Y-%m-%d} "
            f"(window {program.review_window} from {start:%Y-%m-%d}): {changed:,} changes in {t_review():.1f} s = "
            f"{total / t_review():,.0f} members/s   [copy {clone}]"
        )
        with timed() as t_again:
            again = tiers.review(at=REVIEW_AT, force=True)
        connection.close()
        say(f"review: re-run of the same period: {again} changes in {t_again():.1f} s")
        say(
            f"review: for scale, one read-only SQL statement finds {would:,} changes among {looked:,} members "
            f"in {t_sql():.1f} s ({'the same' if would == changed else 'DIFFERENT from the service'})"
        )
    return {"seconds": t_review(), "members": total, "changed": changed}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_review", description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    setup_django()
    run()


if __name__ == "__main__":
    main(sys.argv[1:])
