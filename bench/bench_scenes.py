"""Birthday scene over the whole chain: campaigns.services.scenes.run_scene against one equivalent
INSERT … SELECT statement, in the same run.

    .venv/bin/python -m bench.bench_scenes [--day 2026-05-20] [--points 200] [--profile]

The scene: every member whose birthday falls on the day or within the 6 days after it (the window
is the birthday and the 6 days before), 200 bonus points, once a year, all tiers. The service
selects the eligible members that have no grant yet (set-based), then grants in batches of 1,000:
grant rows, points lots and balances, each batch one transaction. The raw statement does the same
writes in one data-modifying CTE (grants, lots, balances) and is rolled back, so the service then
meets the same state; what the service wrote is removed again at the end. Besides the times it
prints the service's Python CPU and its PostgreSQL backend's CPU; --profile adds where the Python
CPU goes (a CPU-time profile, grouped by layer as bench.profile_sale does)."""

import argparse
import cProfile
import time
from datetime import date, datetime

from .common import SH, django_backend_cpu, ratio, raw_connect, say, setup_django, timed

RAW = """
WITH eligible AS (
  SELECT m.id, m.points_balance FROM membership_member m
  WHERE m.status = 'active' AND (m.birth_month, m.birth_day) IN ({pairs})
    AND NOT EXISTS (SELECT 1 FROM campaigns_scenegrant g WHERE g.scene_id = %(scene)s AND g.member_id = m.id
                    AND g.occurrence = %(occ)s)
), grants AS (
  INSERT INTO campaigns_scenegrant (scene_id, member_id, occurrence, variant, status, points, created_at)
  SELECT %(scene)s, id, %(occ)s, 'A', 'granted', %(points)s, %(at)s FROM eligible RETURNING member_id
), lots AS (
  INSERT INTO membership_pointsentry (member_id, amount, kind, source, source_ref, reason, created_at,
    balance_after, remaining, pending, expires_at, flagged, idempotency_key)
  SELECT e.id, %(points)s, 'bonus', 'scene', 'raw', '', %(at)s, e.points_balance + %(points)s, %(points)s, false,
         %(expires)s, false, 'raw:' || %(scene)s || ':' || %(occ)s || ':' || e.id FROM eligible e
)
UPDATE membership_member m SET points_balance = m.points_balance + %(points)s FROM grants g WHERE m.id = g.member_id
"""


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--day", default="2026-05-20", help="the day the scene runs")
    parser.add_argument("--points", type=int, default=200)
    parser.add_argument("--profile", action="store_true", help="profile the service's Python CPU")
    args = parser.parse_args(argv)
    setup_django()
    from campaigns import calendar as cal
    from campaigns.models import BenefitPackage, Scene, SceneGrant
    from campaigns.services import scenes
    from membership import config
    from membership.models import Member
    from membership.services.points import expiry_for

    day = date.fromisoformat(args.day)
    at = datetime(day.year, day.month, day.day, 8, 30, tzinfo=SH)
    package, _ = BenefitPackage.objects.get_or_create(
        name="bench birthday points", defaults={"bonus_points": args.points}
    )
    scene, _ = Scene.objects.get_or_create(
        name="bench birthday", defaults={"kind": "birthday", "package": package, "days_before": 6}
    )
    pairs = cal.anchors_for_window(day, 6, 0)
    occurrence = next(iter(set(pairs.values())))
    members = Member.objects.count()
    with raw_connect() as conn:
        conn.execute("ANALYZE membership_member")
        pair_sql = ", ".join(f"({m}, {d})" for m, d in pairs)
        with timed() as raw_time:
            cur = conn.execute(
                RAW.format(pairs=pair_sql),
                {
                    "scene": scene.pk,
                    "occ": occurrence,
                    "points": args.points,
                    "at": at,
                    "expires": expiry_for(at, config.program()),
                },
            )
            raw_rows = cur.rowcount
        conn.rollback()
    profile = cProfile.Profile(time.process_time) if args.profile else None
    python, backend = time.process_time(), django_backend_cpu()
    with timed() as service_time:
        if profile:
            profile.enable()
        result = scenes.run_scene(scene, at=at)
        if profile:
            profile.disable()
    python, backend = time.process_time() - python, (django_backend_cpu() or 0) - (backend or 0)
    say(f"birthday scene on {day} over {members} members: {result.granted} granted")
    say(
        f"service run_scene: {service_time():.2f} s; one INSERT … SELECT (CTE, rolled back): {raw_time():.2f} s "
        f"for {raw_rows} members; ratio {ratio(service_time(), raw_time())} (goal ≤ 1.2)"
    )
    say(
        f"service CPU: Python {python:.2f} s{' (profiled)' if profile else ''}, its PostgreSQL backend "
        f"{backend:.2f} s; per member granted {python * 1e6 / max(result.granted, 1):,.0f} µs + "
        f"{backend * 1e6 / max(result.granted, 1):,.0f} µs"
    )
    if profile:
        from .profile_sale import report

        report(profile, max(result.granted, 1), 25)
    # leave the bench database as it was
    with raw_connect() as conn:
        conn.execute(
            "UPDATE membership_member m SET points_balance = m.points_balance - %s FROM campaigns_scenegrant g"
            " WHERE g.scene_id = %s AND g.member_id = m.id",
            [args.points, scene.pk],
        )
        conn.execute(
            "DELETE FROM membership_pointsentry WHERE source = 'scene' AND source_ref = %s", [f"scene:{scene.pk}"]
        )
        conn.execute("DELETE FROM campaigns_scenegrant WHERE scene_id = %s", [scene.pk])
        conn.commit()
    Scene.objects.filter(pk=scene.pk).update(granted=0, points_granted=0)
    assert not SceneGrant.objects.filter(scene=scene).exists()  # nosec B101


if __name__ == "__main__":
    main()
