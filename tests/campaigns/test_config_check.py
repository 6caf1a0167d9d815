"""Issue 29: `manage.py check_config` (also `check --deploy` and HQ's admin page) names every setting
that fails its validation, every scene that failed, and risky settings, each with what to do; on the
demo programme it prints nothing alarming."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import translation

from campaigns.models import BenefitPackage, CouponTemplate, Scene
from campaigns.services import config_check
from membership.models import Tier

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo():
    call_command("seed_demo", stdout=StringIO())


def check_config(*args):
    out = StringIO()
    with translation.override("en"):
        call_command("check_config", *args, stdout=out)
    return out.getvalue()


def test_the_demo_programme_prints_nothing(demo):
    assert check_config("--strict") == ""
    assert config_check.problems() == []


def break_the_demo():
    """Rows as an old release or a direct database edit left them: they pass the database's checks but
    not their models' validation, or are risky."""
    gift = BenefitPackage.objects.create(name="10 积分", bonus_points=10)
    Tier.objects.filter(code="SILVER").update(reach_growth=6000)  # above GOLD's 5,000
    CouponTemplate.objects.filter(code="WELCOME10").update(valid_days=None, valid_until=None)
    Scene.objects.create(name="国庆坏场景", kind="fixed_holiday", month=None, day=None, package=gift)
    Scene.objects.create(name="会员日A", kind="member_day", day=8, end_day=12, package=gift)
    Scene.objects.create(name="会员日B", kind="member_day", day=10, package=gift)
    Scene.objects.create(name="空预算", kind="winback", budget_grants=0, package=gift)
    Scene.objects.create(name="跑挂了", kind="winback", package=gift, last_error="TypeError: boom")
    CouponTemplate.objects.create(code="ORPHAN", name="没人发的券", value=5, valid_days=7)


def test_a_broken_copy_names_each_problem(campaigns_demo):
    break_the_demo()
    printed = check_config()
    lines = printed.splitlines()

    def line_of(*words):
        found = [line for line in lines if all(w in line for w in words)]
        assert found, f"no line with {words} in:\n{printed}"
        return found[0]

    assert "[error]" in line_of("银卡会员", "growth to reach")
    assert "[error]" in line_of("WELCOME10", "valid days after grant")
    assert "[error]" in line_of("国庆坏场景", "month")
    assert "[error]" in line_of("跑挂了", "TypeError: boom")
    assert "[warning]" in line_of("会员日B", "会员日A")
    assert "[warning]" in line_of("空预算", "budget")
    assert "[warning]" in line_of("ORPHAN")
    with pytest.raises(CommandError, match="configuration error"):
        check_config("--strict")


def test_the_deploy_check_warns_and_does_not_fail(campaigns_demo):
    break_the_demo()
    from django.core.checks import run_checks

    found = [m for m in run_checks(include_deployment_checks=True) if m.id == "campaigns.W001"]
    assert any("国庆坏场景" in m.msg for m in found)
    assert all(not m.is_serious() for m in found)


def test_hq_sees_the_page_and_a_clerk_does_not(campaigns_demo, client):
    from membership.models import User

    break_the_demo()
    client.force_login(User.objects.get(username="admin"))
    page = client.get("/admin/campaigns/scene/check/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "国庆坏场景" in body and "会员日B" in body and 'href="/admin/campaigns/scene/' in body
    assert "/admin/campaigns/scene/check/" in client.get("/admin/campaigns/scene/").content.decode()
    client.force_login(User.objects.get(username="manager1"))
    assert client.get("/admin/campaigns/scene/check/").status_code in (302, 403)
