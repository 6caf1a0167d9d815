"""The background member import's page in headless Chromium: the progress bar follows the job's stored
progress, survives a reload, and the page shows the reconciliation once the worker is done."""

import pytest
from django.core.files.base import ContentFile

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def sign_in(page, url, username, password):
    page.goto(f"{url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def test_the_progress_bar_follows_the_worker_and_survives_a_reload(live_server, page_at, program, settings, tmp_path):
    from membership.models import MemberImportJob

    settings.MEDIA_ROOT = tmp_path
    job = MemberImportJob(dry_run=True, status=MemberImportJob.Status.RUNNING, rows_total=200, rows_done=80)
    job.file.save("members.csv", ContentFile(b"phone,home_store\n"), save=False)
    job.save()  # as the worker leaves it mid-file
    page = page_at(1280, 800, locale="en-US")
    sign_in(page, live_server.url, "admin", "admin-demo")
    url = f"{live_server.url}/admin/membership/memberimportjob/{job.pk}/change/"
    page.goto(url)
    assert page.locator("#job-bar").get_attribute("value") == "40"
    page.reload()  # the bar comes back from the job, not from the browser
    assert page.locator("#job-bar").get_attribute("value") == "40"
    MemberImportJob.objects.filter(pk=job.pk).update(rows_done=160)
    page.wait_for_function("document.getElementById('job-bar').value == 80")
    assert "160 / 200" in page.locator("#job-note").inner_text()
    MemberImportJob.objects.filter(pk=job.pk).update(
        rows_done=200,
        status=MemberImportJob.Status.DONE,
        result={"table": [["rows read", "200", "200"]], "errors": [], "base_errors": [], "rolled_back": False},
    )
    page.wait_for_selector("#reconciliation")  # the page reloads itself when the worker is done
    assert page.locator("#reconciliation tbody tr").first.inner_text().split() == ["rows", "read", "200", "200"]
