"""Issue 31: Django admin in Chinese has no English or raw codes where the portal names a thing: the
export form's column list and its "Resource", the ledgers' member / operator / scene columns, the
periodic tasks' schedule column and django-auditlog's app, filters and change summaries."""

import re

import pytest

pytestmark = pytest.mark.django_db


def zh(client, path):
    page = client.get(path, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert page.status_code == 200, path
    return page.content.decode()


def test_the_export_form_names_its_columns_in_chinese(signed_in):
    html = zh(signed_in("admin"), "/admin/membership/member/export/")
    assert "数据类型" in html and "Resource" not in html and "全选" in html
    assert (
        "会员号 (member_no)" in html and "储值本金 (sv_principal)" in html and "推荐人手机号 (referrer_phone)" in html
    )
    for english in ("Member No", "Sv Principal", "Referrer Phone", "Points Expire On", "Home Store"):
        assert english not in html
    html = zh(signed_in("admin"), "/admin/analytics/target/export/")
    assert "Repurchase Rate" not in html and "New Members" not in html and "(repurchase_rate)" in html


def test_ledger_columns_and_third_party_admins_are_chinese(signed_in, enrol, demo_staff):
    from campaigns.models import BenefitPackage, Scene, SceneGrant

    admin = signed_in("admin")
    member = enrol()  # an audit row (member.enrol) with its member and operator
    package = BenefitPackage.objects.create(name="试点礼包")
    scene = Scene.objects.create(name="试点", kind=Scene.Kind.WELCOME, package=package)
    SceneGrant.objects.create(scene=scene, member=member, occurrence="x", created_at=member.joined_at)
    headers = lambda html: re.findall(r'<th scope="col"[^>]*>.*?<(?:a|span)[^>]*>([^<]+)<', html, re.S)  # noqa: E731
    audit = headers(zh(admin, "/admin/membership/auditlog/"))
    assert "会员" in audit and "操作人" in audit and "member" not in audit and "operator" not in audit
    grants = headers(zh(admin, "/admin/campaigns/scenegrant/"))
    assert "营销场景" in grants and "scene" not in grants
    tasks = zh(admin, "/admin/django_celery_beat/periodictask/")
    assert "Scheduler" not in tasks and ">计划<" in tasks
    index = zh(admin, "/admin/")
    assert "配置变更记录" in index and "Audit log" not in index
    log = zh(admin, "/admin/auditlog/logentry/")  # the program's tiers and plans, created by the seed
    assert "项变更：" in log and " changes: " not in log and " change: " not in log
    assert "对象类型" in log and "Resource" not in log


def test_the_many_to_many_chooser_speaks_chinese(signed_in):
    """Issue 31: the scene form's tier, tag and store choosers said "Choose 等级 by selecting them…",
    "Choose all 等级": Django's Chinese JavaScript catalogue lacks those strings, ours has them."""
    import json
    import re

    body = signed_in("admin").get("/admin/jsi18n/", HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    catalog = json.loads(re.search(r"const newcatalog = (\{.*?\});", body, re.S).group(1))
    for msgid in (
        'Choose %s by selecting them and then select the "Choose" arrow button.',
        "Choose all %s",
        'Remove %s by selecting them and then select the "Remove" arrow button.',
        "Remove all %s",
        "Choose selected %s",
        "Remove selected %s",
    ):
        assert catalog.get(msgid) and not re.search(r"[A-Za-z]{3}", catalog[msgid].replace("%s", "")), msgid
    assert catalog["Available %s"] == "可用 %s"  # Django's own, still there
