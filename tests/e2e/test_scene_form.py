"""The campaign scene form in headless Chromium, as HQ meets it in Chinese: choosing a kind shows only
the "when" fields that kind declares in campaigns.kinds (read from the registry here, never listed by
hand), with the kind's help; switching kinds after typing keeps the form usable; and a lunar holiday
saved without its month and day comes back with the model's error on those two fields."""

import pytest
from django.utils import translation

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

KINDS_UNDER_TEST = ("lunar_holiday", "member_day", "winback")


def sign_in(page, url, username, password):
    page.goto(f"{url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()


@pytest.fixture
def scene_form(live_server, demo_staff, page_at):
    """A page on the empty scene form, signed in as the demo HQ operator."""
    page = page_at(1280, 800)
    sign_in(page, live_server.url, "admin", "admin-demo")
    page.goto(f"{live_server.url}/admin/campaigns/scene/add/")
    page.wait_for_selector("#id_kind")
    return page


def row(page, name):
    return page.locator(f".form-row.field-{name}")


def visible_when_fields(page):
    from campaigns import kinds

    return {name for name in kinds.WHEN_FIELDS if row(page, name).is_visible()}


def zh(text):
    """`text` (a lazy or a plain message) as the Chinese page shows it."""
    with translation.override("zh-hans"):
        return translation.gettext(str(text))


def choose(page, code):
    page.select_option("#id_kind", code)  # fires "change"; scene-kinds.js redraws the fieldset in it
    assert page.input_value("#id_kind") == code


def test_each_kind_shows_only_its_fields_with_its_help(scene_form, screenshot):
    from campaigns import kinds

    page = scene_form
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    # every when-field has its own row in the form, so hiding one hides nothing else
    for name in kinds.WHEN_FIELDS:
        assert row(page, name).count() == 1, name
    fieldset = page.locator("fieldset", has=row(page, kinds.WHEN_FIELDS[0]))
    assert zh("Only the fields the chosen kind uses are shown.") in fieldset.locator(".description").inner_text()

    for code in KINDS_UNDER_TEST:
        kind = kinds.KINDS[code]
        choose(page, code)
        assert visible_when_fields(page) == set(kind.fields), code
        for name in set(kinds.WHEN_FIELDS) - set(kind.fields):
            assert row(page, name).is_hidden(), (code, name)
        assert kind.help, f"{code} declares no help to check"
        for name, text in kind.help.items():
            assert name in kind.fields, (code, name)
            help_box = row(page, name).locator(f"#id_{name}_helptext")
            assert help_box.is_visible(), (code, name)
            assert help_box.inner_text().strip() == zh(text), (code, name)
            # under its input, from the input's left edge, as Django places a field's own help
            field, box = page.locator(f"#id_{name}").bounding_box(), help_box.bounding_box()
            assert box["y"] >= field["y"] + field["height"] - 1, (code, name, field, box)
            assert abs(box["x"] - field["x"]) <= 12, (code, name, field, box)
        # the rows shown come in the kind's order and do not overlap one another
        shown = page.eval_on_selector_all(
            ".form-row[data-kind-field=shown]",
            "rows => rows.map(r => [...r.classList].find(c => c.startsWith('field-')).slice(6))",
        )
        assert shown == list(kind.fields), code
        boxes = [row(page, name).bounding_box() for name in kind.fields]
        for upper, lower in zip(boxes, boxes[1:]):
            assert upper["y"] + upper["height"] <= lower["y"] + 1, (code, boxes)
        # no help left showing on a hidden row, and no empty help box taking room on a shown one
        for name in kinds.WHEN_FIELDS:
            help_box = page.locator(f"#id_{name}_helptext")
            if help_box.count() and help_box.is_visible():
                assert name in kind.fields and help_box.inner_text().strip(), (code, name)
        screenshot(page, f"admin-scene-{code.replace('_', '-')}-1280x800")


def test_switching_kind_after_typing_keeps_the_form_usable(scene_form):
    from campaigns import kinds

    page = scene_form
    choose(page, "lunar_holiday")
    page.fill("#id_month", "8")
    page.fill("#id_day", "15")
    choose(page, "winback")
    assert visible_when_fields(page) == set(kinds.KINDS["winback"].fields)
    page.fill("#id_inactive_days", "60")
    assert page.input_value("#id_inactive_days") == "60"
    choose(page, "member_day")
    assert visible_when_fields(page) == set(kinds.KINDS["member_day"].fields)
    # the day typed for the lunar holiday is still there for the member day, and can be changed
    assert page.input_value("#id_day") == "15"
    page.fill("#id_day", "8")
    assert page.input_value("#id_day") == "8"
    choose(page, "lunar_holiday")
    assert visible_when_fields(page) == set(kinds.KINDS["lunar_holiday"].fields)
    assert page.input_value("#id_month") == "8" and page.input_value("#id_day") == "8"
    # the help of the kind chosen last is the one shown, not one left over from before
    month_help = page.locator("#id_month_helptext")
    assert month_help.inner_text().strip() == zh(kinds.KINDS["lunar_holiday"].help["month"])
    assert page.locator("#id_kind").is_enabled() and page.locator("#id_month").is_editable()


def test_a_lunar_holiday_without_month_and_day_is_refused_on_those_fields(scene_form, screenshot):
    from campaigns import kinds
    from campaigns.models import BenefitPackage, Scene

    package = BenefitPackage.objects.create(name="中秋礼包", bonus_points=10)
    page = scene_form
    page.reload()  # the package list now holds the package made above
    page.fill("#id_name", "中秋节")
    choose(page, "lunar_holiday")
    page.select_option("#id_package", str(package.pk))
    page.click("input[name=_save]")
    page.wait_for_selector(".errornote")
    assert "/add/" in page.url
    assert not Scene.objects.exists()
    required = zh(kinds.MSG_REQUIRED)
    for name in ("month", "day"):
        errors = row(page, name).locator(".errorlist")
        assert errors.is_visible(), name
        assert errors.inner_text().strip() == required, name
    # the form comes back on the kind chosen, with its fields shown and the rest hidden
    assert page.input_value("#id_kind") == "lunar_holiday"
    assert visible_when_fields(page) == set(kinds.KINDS["lunar_holiday"].fields)
    assert page.locator(".errorlist").count() == 2, page.locator(".errorlist").all_inner_texts()
    screenshot(page, "admin-scene-lunar-holiday-errors-1280x800")
