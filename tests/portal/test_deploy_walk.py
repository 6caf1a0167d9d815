"""docs/deploy.md walked end to end on the non-container path (issue 30): scripts/walk_deploy.py runs the
section "A first install by hand, on one machine" block by block, as written, in a copy of the release
against a fresh database: .env from the example with a key of its own, build, migrate, bootstrap,
deploy checks, a clerk, gunicorn with a worker and beat, a till's sign-in, enrolment and sale through
the API, a backup, a graceful reload that picks up the changed .env, and a stop that leaves nothing
running. The commands are the documentation's, so the two cannot drift; the first test fails when a
step of the release drops out of the walked section."""

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from .gunicorn_run import scratch_database

ROOT = Path(__file__).resolve().parents[2]


def walk_module():
    spec = importlib.util.spec_from_file_location("walk_deploy", ROOT / "scripts" / "walk_deploy.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_walked_section_holds_every_step_of_a_release():
    doc = (ROOT / "docs" / "deploy.md").read_text()
    walked = "\n".join(walk_module().blocks(doc))
    for command in (
        "cp .env.production.example .env",
        "scripts/build_assets.sh",
        "python manage.py migrate --no-input",
        "python manage.py bootstrap --no-input",
        "--admin-password-file",
        "python manage.py check --deploy",
        "gunicorn -c portal/gunicorn_conf.py portal.wsgi",
        "celery -A portal worker --loglevel=INFO",
        "celery -A portal beat --loglevel=INFO",
        "/auth/token/",
        '"$api/members/"',
        '"$api/sales/"',
        "scripts/backup.sh",
        "kill -HUP",
    ):
        assert command in walked, command
    # the walked commands are the ones the release steps and compose name, not variants of them
    compose = (ROOT / "docker-compose.yml").read_text()
    for command in ("gunicorn -c portal/gunicorn_conf.py portal.wsgi", "python manage.py migrate --no-input"):
        assert command in compose and f"`{command}`" in doc.split("## A first install by hand")[0]
    assert "--password" not in walked.replace("--admin-password-file", "")  # never on the command line
    # the secret key is generated, never the example's placeholder
    assert re.search(r"SECRET_KEY=\$\(python -c .*token_urlsafe\(38\)", walked)


def test_walk_finds_only_the_marked_blocks():
    text = "```sh\nnot walked\n```\n```sh walk\necho one\n```\ntext\n```sh walk\necho two\n```\n"
    assert walk_module().blocks(text) == ["echo one\n", "echo two\n"]


@pytest.fixture
def walk_database():
    """An empty database of its own on the test run's PostgreSQL server, dropped afterwards."""
    with scratch_database("portal_walk") as url:
        yield url


@pytest.mark.postgres
def test_deploy_md_walked_end_to_end(walk_database, tmp_path):
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", str(tmp_path)),
        "DATABASE_URL": walk_database,
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
    }
    result = subprocess.run(
        [sys.executable, "scripts/walk_deploy.py", "--keep", str(tmp_path / "walk")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=400,
    )
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-6000:]
    assert out.rstrip().splitlines()[-1].startswith("walk: ok"), out[-3000:]
    assert "Created superuser hq-admin" in out and "clerk clerk1.s001 of S001" in out
    assert "System check identified no issues" in out  # check --deploy, on the production settings
    assert "web: /healthz 200" in out and "pong" in out and "beat: Starting" in out
    member_no = re.search(r"^enrolled (\S+)$", out, re.MULTILINE).group(1)
    assert f'"receipt_no":"WALK-0001","member_no":"{member_no}"' in out
    assert '"points_earned":300' in out  # the bootstrap tier's ×1 on 300.00
    assert re.search(r"^-rw------- .* portal-\d{8}T\d{6}Z\.dump$", out, re.MULTILINE), out  # backup mode 0600
    assert '"release": "2026.12.2"' in out  # the reload read the changed .env
    assert "still running" not in out
    release = tmp_path / "walk" / "release"
    env_file = (release / ".env").read_text()
    assert "change-me" not in env_file and (release / ".env").stat().st_mode & 0o777 == 0o600
    for pidfile in (release / "var" / "run").glob("*.pid"):  # every process the walk started is gone
        pid = int(pidfile.read_text())
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text(), pidfile
