"""Issue 30: an upgrade answered 500 to every till until the web restarted (migrations added NOT NULL
columns the serving release did not write). This starts the previous release's web (the commit in
.ci/previous-release, checked out of this repository's history) on its own schema, keeps tills
enrolling and selling through it, migrates the database to this release meanwhile, and counts the
answers: not one 5xx. Migrations are expand-only (make lint's migration check keeps them so)."""

import itertools
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.db import connection

from .gunicorn_run import ROOT, database_url, free_port, get, post_json

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
PREVIOUS = (ROOT / ".ci" / "previous-release").read_text().split()[0]


def answers(url) -> bool:
    try:
        return get(url, timeout=2)[0] in (200, 503)
    except OSError:  # not listening yet
        return False


@pytest.fixture
def previous_release(tmp_path):
    """The previous release's files, exported from git (a shallow clone without it: skipped, saying so)."""
    known = subprocess.run(["git", "-C", str(ROOT), "cat-file", "-e", f"{PREVIOUS}^{{commit}}"], capture_output=True)
    if known.returncode:
        pytest.skip(f"the previous release {PREVIOUS[:10]} is not in this clone's history (a shallow clone?)")
    tree = tmp_path / "previous"
    tree.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", PREVIOUS], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    (tree / ".venv").symlink_to(Path(sys.prefix))
    return tree


@pytest.fixture
def upgrade_database(on_postgres):
    """An empty database of its own beside the test database, dropped afterwards."""
    name = f"{connection.settings_dict['NAME']}_upgrade"
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
        cursor.execute(f'CREATE DATABASE "{name}"')
    yield f"{database_url().rsplit('/', 1)[0]}/{name}"
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def manage(root, env, *args):
    done = subprocess.run([sys.executable, "manage.py", *args], cwd=root, env=env, capture_output=True, text=True)
    assert done.returncode == 0, f"{root.name}: manage.py {' '.join(args)}\n{done.stdout[-2000:]}{done.stderr[-3000:]}"
    return done.stdout


def migrations_of(root):
    return {(path.parent.parent.name, path.stem) for path in root.glob("*/migrations/0*.py")}


def new_migrations(previous_root):
    """This release's migrations the previous one does not have (none when the pin is moved to the newest
    landed release: the test then shows the old code serving on the schema it shares)."""
    return sorted(migrations_of(ROOT) - migrations_of(previous_root))


def test_tills_see_no_5xx_while_this_release_migrates_under_the_previous_one(
    previous_release, upgrade_database, tmp_path
):
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": upgrade_database,
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DEBUG": "1",  # the demo's accounts serve the tills; production would refuse their passwords
        "PORTAL_VAR_DIR": str(tmp_path / "var"),
        "CELERY_BROKER_URL": "filesystem://",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "2",
        "THROTTLE_WRITE": "100000/min",
        "THROTTLE_LOOKUP": "100000/min",
        "THROTTLE_LOOKUP_IP": "100000/min",
    }
    for name in ("DJANGO_ALLOW_ASYNC_UNSAFE", "PROMETHEUS_MULTIPROC_DIR", "PYTEST_CURRENT_TEST"):
        env.pop(name, None)
    manage(previous_release, env, "migrate", "--no-input")
    manage(previous_release, env, "seed_demo")
    log = open(tmp_path / "gunicorn.log", "w")
    web = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "portal/gunicorn_conf.py", "portal.wsgi"],
        cwd=previous_release,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    statuses, stop = [], threading.Event()
    try:
        deadline = time.monotonic() + 60
        while not answers(f"{base}/healthz"):
            assert web.poll() is None and time.monotonic() < deadline, (tmp_path / "gunicorn.log").read_text()[-3000:]
            time.sleep(0.5)
        status, body = post_json(f"{base}/api/v1/auth/token/", {"username": "clerk1", "password": "clerk1-demo"})
        assert status == 200, body
        auth = {"Authorization": f"Token {body['token']}"}
        numbers = itertools.count(1)

        def till(n):
            while not stop.is_set():
                i = next(numbers)
                status, member = post_json(f"{base}/api/v1/members/", {"phone": f"1770{n}{i:06d}"}, auth)
                statuses.append(status)
                if status == 201:
                    sale = {"receipt_no": f"UP{n}-{i}", "member": member["member_no"], "amount": "88.00"}
                    statuses.append(post_json(f"{base}/api/v1/sales/", sale, auth)[0])

        tills = [threading.Thread(target=till, args=(n,)) for n in range(3)]
        for t in tills:
            t.start()
        time.sleep(3)
        served_before = len(statuses)
        migrated = manage(ROOT, env, "migrate", "--no-input")  # this release's migrations, under load
        time.sleep(3)
        stop.set()
        for t in tills:
            t.join(timeout=60)
    finally:
        stop.set()
        import signal

        os.killpg(web.pid, signal.SIGTERM)
        web.wait(timeout=30)
        log.close()
    new = new_migrations(previous_release)
    for app, name in new:  # each of this release's migrations ran while the old one served
        assert f"Applying {app}.{name}" in migrated, migrated
    if not new:  # the pin is the newest release: the old code still served on the schema it shares
        assert "No migrations to apply" in migrated, migrated
    assert served_before > 0 and len(statuses) > served_before
    errors = [s for s in statuses if s >= 500]
    assert errors == [], (
        f"{len(errors)} of {len(statuses)} answers were 5xx:\n" + (tmp_path / "gunicorn.log").read_text()[-4000:]
    )
    assert statuses.count(201) > 10
