"""History of configuration changes (django-auditlog, issue 16): an admin change shows on the
object's History page with the operator, the time, and each field before and after."""

import re

import pytest
from auditlog.models import LogEntry
from django.utils import timezone

from campaigns.models import Scene
from membership.models import EarnStage, ProgramSettings, Tier

pytestmark = pytest.mark.django_db


@pytest.fixture
def hq(signed_in, program):
    client = signed_in("admin")
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def form_data(client, url) -> dict:
    """The change form's current values, as the browser would post them back."""
    form = client.get(url).context["adminform"].form
    data = {}
    for name in form.fields:
        value = form[name].value()
        if isinstance(value, (list, tuple)):
            data[name] = [str(v) for v in value]
        else:
            data[name] = "" if value is None else value
    return {k: v for k, v in data.items() if v is not False}


def history_rows(html: str) -> list[list[str]]:
    rows = re.findall(r'<tr class="history-change">(.*?)</tr>', html, re.S)
    return [
        [" ".join(re.sub(r"<[^>]+>", " ", cell).split()) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        for row in rows
    ]


def test_an_admin_change_of_a_tier_threshold_shows_operator_and_both_values(hq, demo_staff):
    tier = Tier.objects.exclude(reach_growth=0).order_by("rank").first()
    before = tier.reach_growth
    after = before + 1234
    url = f"/admin/membership/tier/{tier.pk}/change/"
    data = form_data(hq, url)
    data["reach_growth"] = after
    response = hq.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    tier.refresh_from_db()
    assert tier.reach_growth == after

    entry = LogEntry.objects.get_for_object(tier).get(action=LogEntry.Action.UPDATE)
    assert entry.actor == demo_staff["admin"]
    assert entry.changes_dict == {"reach_growth": [str(before), str(after)]}

    page = hq.get(f"/admin/membership/tier/{tier.pk}/history/")
    assert page.status_code == 200
    rows = [row for row in history_rows(page.content.decode()) if len(row) == 6 and row[2] == "changed"]
    assert len(rows) == 1  # newest first; the seed's "created" entry follows
    when, who, what, field, old, new = rows[0]
    assert who.split()[0] == "admin" and what == "changed"  # then the address it came from
    assert field == "growth to reach" and old == str(before) and new == str(after)
    assert when == timezone.localtime(entry.timestamp).strftime("%Y-%m-%d %H:%M:%S")


def test_the_history_page_is_in_chinese(signed_in, program):
    client = signed_in("admin")
    settings_row = ProgramSettings.load()
    url = f"/admin/membership/programsettings/{settings_row.pk}/change/"
    data = form_data(client, url)
    data["earn_rate"] = "2"
    assert client.post(url, data).status_code == 302
    page = client.get(f"/admin/membership/programsettings/{settings_row.pk}/history/").content.decode()
    assert "修改前" in page and "修改后" in page and "admin" in page


def test_service_counters_are_not_configuration_changes(program, demo_staff):
    """Scenes and templates count their grants by queryset updates: no history rows for those."""
    stage = EarnStage.objects.create(from_amount=1000, rate=2)
    assert LogEntry.objects.get_for_object(stage).count() == 1  # created
    Scene.objects.filter(pk__in=[]).update(granted=1)
    assert not LogEntry.objects.filter(content_type__model="scene").exists()


@pytest.mark.parametrize("model", ["programsettings", "tier", "earnstage", "earnmultiplier", "topupplan"])
def test_every_program_model_is_tracked(model):
    from auditlog.registry import auditlog
    from django.apps import apps

    assert auditlog.contains(apps.get_model("membership", model))


@pytest.mark.parametrize("model", ["coupontemplate", "scene", "benefitpackage", "mallitem", "programrules"])
def test_every_campaign_model_is_tracked(model):
    from auditlog.registry import auditlog
    from django.apps import apps

    assert auditlog.contains(apps.get_model("campaigns", model))


def test_the_recorded_address_is_not_what_the_client_writes(hq):
    """X-Forwarded-For is only believed behind NUM_PROXIES proxies (core.client_ip)."""
    tier = Tier.objects.order_by("rank").first()
    url = f"/admin/membership/tier/{tier.pk}/change/"
    data = form_data(hq, url)
    data["keep_growth"] = 0
    data["name"] = tier.name + "!"
    assert hq.post(url, data, REMOTE_ADDR="10.1.2.3", HTTP_X_FORWARDED_FOR="6.6.6.6").status_code == 302
    entry = LogEntry.objects.get_for_object(tier).get(action=LogEntry.Action.UPDATE)
    assert entry.remote_addr == "10.1.2.3"
