"""Campaign admin: audience size, dry run, run now, and the results page of an A/B split."""

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from campaigns.models import BenefitPackage, Scene, SceneGrant
from campaigns.services import results, scenes

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def ab_scene(program):
    a = BenefitPackage.objects.create(name="A", bonus_points=10, cost_per_grant=Decimal("1.00"))
    b = BenefitPackage.objects.create(name="B", bonus_points=20, cost_per_grant=Decimal("2.00"))
    return Scene.objects.create(
        name="AB test", kind="member_day", day=1, end_day=28, package=a, package_b=b, holdout_percent=20
    )


def test_results_compare_the_two_halves_and_the_holdout(ab_scene, enrol, buy):
    members = [enrol() for _ in range(30)]
    scenes.run_scene(ab_scene, at=datetime(2026, 6, 5, 9, tzinfo=SH))
    for m in members:  # everyone buys ¥100 after the grant; B members buy ¥50 more
        buy(m, "100.00", at=datetime(2026, 6, 6, 10, tzinfo=SH))
        if SceneGrant.objects.get(member=m).variant == "B":
            buy(m, "50.00", at=datetime(2026, 6, 7, 10, tzinfo=SH))
    rows = {r.variant: r for r in results.scene_results(ab_scene)}
    assert set(rows) == {"A", "B", "holdout"}
    assert sum(r.members for r in rows.values()) == 30
    assert rows["holdout"].sales_per_member == Decimal("100.00") and rows["holdout"].cost == 0
    assert rows["A"].incremental == Decimal("0.00")
    assert rows["B"].incremental == Decimal("50.00") * rows["B"].members
    assert rows["B"].cost == Decimal("2.00") * rows["B"].members
    assert rows["B"].roi == (rows["B"].incremental / rows["B"].cost).quantize(Decimal("0.01"))


def test_scene_pages_in_admin(ab_scene, enrol, signed_in):
    for _ in range(3):
        enrol()
    client = signed_in("admin")
    change = client.get(f"/admin/campaigns/scene/{ab_scene.pk}/change/")
    assert change.status_code == 200 and "audience" in change.content.decode().lower()
    dry = client.get(f"/admin/campaigns/scene/{ab_scene.pk}/dry-run/")
    assert dry.status_code == 200 and dry.context["result"].granted == 3 and SceneGrant.objects.count() == 0
    response = client.post(
        "/admin/campaigns/scene/", {"action": "run_now", "_selected_action": [ab_scene.pk]}, follow=True
    )
    assert response.status_code == 200 and SceneGrant.objects.count() == 3
    page = client.get(f"/admin/campaigns/scene/{ab_scene.pk}/results/")
    assert page.status_code == 200 and 'id="results"' in page.content.decode()
    assert signed_in("manager1").get(f"/admin/campaigns/scene/{ab_scene.pk}/results/").status_code == 302


def test_grants_and_issued_coupons_are_read_only(signed_in, program):
    client = signed_in("admin")
    for url in [
        "/admin/campaigns/scenegrant/add/",
        "/admin/campaigns/coupon/add/",
        "/admin/campaigns/mallorder/add/",
        "/admin/campaigns/notification/add/",
    ]:
        assert client.get(url).status_code == 403, url
    assert client.get("/admin/campaigns/programrules/").status_code == 302
