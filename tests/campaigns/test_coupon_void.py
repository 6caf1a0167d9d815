"""Issue 29: the coupon status "Void" was a dead choice (nothing set it). HQ now voids coupons granted by
mistake from admin, with why; a void coupon is refused at the till. "Transferred" ledger kinds, never
written, are no longer offered (transfers come with the engagement issue)."""

import pytest

from campaigns.models import Coupon, CouponTemplate
from campaigns.services import coupons
from core.errors import Forbidden, Invalid
from membership.models import AuditLog, PointsEntry, StoredValueEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def three(enrol):
    member = enrol(phone="13800138011")
    template = CouponTemplate.objects.create(code="OOPS", name="误发券", value=20, valid_days=30)
    made = [
        coupons.grant(template=template, member=member, source="test", idempotency_key=f"oops-{n}") for n in range(3)
    ]
    Coupon.objects.filter(pk=made[2].pk).update(status=Coupon.Status.USED)
    return member, made


def test_hq_voids_unused_coupons_with_a_reason(three, demo_staff):
    member, made = three
    voided = coupons.void(coupon_ids=[c.pk for c in made], reason=" 重复发放 ", acting_user=demo_staff["admin"])
    assert sorted(c.pk for c in voided) == [made[0].pk, made[1].pk]
    rows = {c.pk: c for c in Coupon.objects.filter(member=member)}
    assert [rows[c.pk].status for c in made] == ["void", "void", "used"]
    assert rows[made[0].pk].void_reason == "重复发放" and rows[made[0].pk].voided_by == demo_staff["admin"]
    assert AuditLog.objects.filter(action="coupon_void", member=member).count() == 2


def test_a_reason_is_required_and_only_hq_voids(three, demo_staff):
    _member, made = three
    with pytest.raises(Invalid):
        coupons.void(coupon_ids=[made[0].pk], reason="  ", acting_user=demo_staff["admin"])
    with pytest.raises(Forbidden):
        coupons.void(coupon_ids=[made[0].pk], reason="x", acting_user=demo_staff["manager1"])
    assert Coupon.objects.get(pk=made[0].pk).status == "available"


def test_a_void_coupon_is_refused_at_the_till(three, demo_staff, api):
    member, made = three
    coupons.void(coupon_ids=[made[0].pk], reason="误发", acting_user=demo_staff["admin"])
    sale = api("clerk1").post(
        "/api/v1/sales/",
        {"receipt_no": "V1", "member": member.member_no, "amount": "100.00", "coupon_code": made[0].code},
        format="json",
    )
    assert sale.status_code == 409 and sale.json()["error"]["code"] == "coupon_invalid", sale.content


def test_the_admin_action_asks_why_then_voids(three, signed_in):
    member, made = three
    client = signed_in("admin")
    chosen = {"action": "void_coupons", "_selected_action": [c.pk for c in made]}
    page = client.post("/admin/campaigns/coupon/", chosen)
    assert page.status_code == 200
    body = page.content.decode()
    assert 'name="reason"' in body and made[0].code in body and made[2].code not in body
    assert Coupon.objects.filter(status="void").count() == 0
    done = client.post("/admin/campaigns/coupon/", {**chosen, "reason": "重复发放"}, follow=True)
    assert done.status_code == 200
    assert set(Coupon.objects.filter(status="void").values_list("pk", flat=True)) == {made[0].pk, made[1].pk}
    assert "重复发放" in client.get("/admin/campaigns/coupon/").content.decode()


def test_only_hq_is_offered_the_action(demo_staff, rf):
    from django.contrib import admin

    coupon_admin = admin.site._registry[Coupon]
    for username, offered in (("admin", True), ("manager1", False), ("clerk1", False)):
        request = rf.get("/admin/campaigns/coupon/")
        request.user = demo_staff[username]
        assert ("void_coupons" in coupon_admin.get_actions(request)) is offered, username


def test_no_transferred_kind_is_offered():
    assert "transfer" not in PointsEntry.Kind.values
    assert "transfer" not in StoredValueEntry.Kind.values
