"""Regenerate the README's screenshots (docs/img/*.png) from a running demo, in headless Chromium.

    make run                                   # in one terminal: the demo on http://127.0.0.1:8000
    .venv/bin/python scripts/screenshots.py    # in another (BASE_URL=... for another address)

Uses Playwright with the system chromium (as tests/e2e does). It records one sale for the demo
member 张三 at the counter of S001 (receipt SHOT-<time>), paid partly with points, and shoots the
result; the other pictures only read."""

import os
import shutil
import sys
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

BASE = os.environ.get("BASE_URL", "http://127.0.0.1:8000").rstrip("/")
OUT = Path(__file__).resolve().parents[1] / "docs" / "img"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def staff_sign_in(page, username, password):
    page.goto(f"{BASE}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def full_height(page, path):
    """The whole page with the viewport grown to it (sticky bars drawn where they end up)."""
    size = page.viewport_size
    height = page.evaluate("document.documentElement.scrollHeight")
    page.set_viewport_size({"width": size["width"], "height": max(size["height"], height)})
    page.screenshot(path=str(path))
    page.set_viewport_size(size)


def main() -> int:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        print("no chromium: apt-get install chromium fonts-noto-cjk", file=sys.stderr)
        return 1
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True, args=ARGS)

        def page_at(width, height):
            page = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN").new_page()
            page.set_default_timeout(20_000)
            return page

        page = page_at(390, 844)
        page.goto(f"{BASE}/accounts/login/")
        page.screenshot(path=str(OUT / "sign-in-390x844.png"))

        page = page_at(1024, 768)
        staff_sign_in(page, "clerk1", "clerk1-demo")
        page.goto(f"{BASE}/counter/")
        page.fill("#q", "13800138000")
        page.press("#q", "Enter")
        page.wait_for_selector('[data-testid="member-card"]')
        page.fill('[name="receipt_no"]', f"SHOT-{int(time.time())}")
        page.fill('[data-testid="sale-amount"]', "300.00")
        page.fill('[data-testid="sale-points"]', "100")
        page.click('[data-testid="sale-submit"]')
        page.wait_for_selector('[data-testid="result-cash"]')
        page.screenshot(path=str(OUT / "counter-sale-1024x768.png"), full_page=True)

        page = page_at(390, 844)
        page.goto(f"{BASE}/m/login/")
        page.fill("#id_phone", "13800138000")
        page.fill("#id_password", "member-demo")
        page.click('[data-testid="login-submit"]')
        page.wait_for_url(f"{BASE}/m/")
        full_height(page, OUT / "member-home-390x844.png")

        page = page_at(1280, 800)
        staff_sign_in(page, "admin", "admin-demo")
        page.goto(f"{BASE}/analytics/")
        page.wait_for_selector("body[data-charts=drawn]")
        page.screenshot(path=str(OUT / "dashboard-1280x800.png"), full_page=True)
        browser.close()
    for name in sorted(OUT.glob("*.png")):
        print(f"{name.relative_to(OUT.parents[1])}: {name.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
