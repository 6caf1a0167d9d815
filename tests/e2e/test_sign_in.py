import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("width,height", [(390, 844), (1280, 800)])
def test_clerk_signs_in_in_chinese(live_server, demo_staff, page_at, screenshot, width, height):
    page = page_at(width, height)
    page.goto(f"{live_server.url}/accounts/login/")
    assert page.locator("h1").inner_text() == "员工登录"
    screenshot(page, f"sign-in-{width}x{height}")

    page.fill("#id_username", "clerk1")
    page.fill("#id_password", "clerk1-demo")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/counter/")
    assert page.get_by_test_id("who").inner_text() == "李导购"
    assert "旗舰店" in page.locator(".who-store").inner_text()
    screenshot(page, f"home-clerk-{width}x{height}")


def test_wrong_password_shows_the_error_in_the_page(live_server, demo_staff, page_at):
    page = page_at(390, 844)
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "clerk1")
    page.fill("#id_password", "nope")
    page.click("button[type=submit]")
    assert "正确的" in page.get_by_role("alert").inner_text()


def test_language_switch_turns_the_page_english(live_server, page_at):
    page = page_at(1280, 800)
    page.goto(f"{live_server.url}/accounts/login/")
    page.select_option("#lang-select", "en")
    page.wait_for_load_state()
    page.wait_for_function("document.querySelector('h1').innerText === 'Staff sign-in'")
    assert page.locator("html").get_attribute("lang") == "en"
