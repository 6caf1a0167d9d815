"""Start the project's gunicorn (portal/gunicorn_conf.py) on the test database, for tests that need
real worker processes. The server stops when the `with` block ends, whatever happens in it."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def copy_project(target: Path) -> Path:
    """A copy of the project's files (tracked, and new ones git does not ignore) at `target`, with this
    interpreter's virtualenv as its .venv: to change a release's files without touching the checkout."""
    listed = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "-co", "--exclude-standard"], capture_output=True, text=True, check=True
    )
    for name in listed.stdout.splitlines():
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            (target / name).write_bytes(source.read_bytes())
    for compiled in (ROOT / "locale").rglob("*.mo"):  # built, not tracked
        (target / compiled.relative_to(ROOT)).write_bytes(compiled.read_bytes())
    (target / ".venv").symlink_to(Path(sys.prefix))
    return target


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def database_url() -> str:
    d = connection.settings_dict
    return f"postgres://{d['USER']}:{d['PASSWORD']}@{d['HOST'] or '127.0.0.1'}:{d['PORT'] or 5432}/{d['NAME']}"


def get(url: str, headers: dict | None = None, timeout: float = 20) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def post_json(url: str, body: dict, headers: dict | None = None, timeout: float = 30) -> tuple[int, dict]:
    """POST `body` as JSON; (status, the JSON answer, or {} when the answer is an error or empty)."""
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, {}


@contextmanager
def gunicorn(tmp_path, *, workers: int, env: dict | None = None, root: Path = ROOT):
    """Yield the base URL of a running gunicorn with `workers` workers (production settings: DEBUG=0)."""
    port = free_port()
    environment = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "DEBUG": "0",
        "SECRET_KEY": "test-only-gunicorn-secret-key-0123456789-abcdefghij",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "PORTAL_VAR_DIR": str(tmp_path),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": str(workers),
        "CONN_MAX_AGE": "60",
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        **(env or {}),
    }
    environment.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # set by the browser tests; the deploy check refuses it
    if not environment.get("CELERY_BROKER_URL", "").startswith("redis://"):
        environment["CELERY_BROKER_URL"] = "redis://127.0.0.1:6379/15"  # only read by the deploy check
    log = open(tmp_path / "gunicorn.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "portal/gunicorn_conf.py", "portal.wsgi"],
        cwd=root,
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    base_url = Base(base)
    base_url.pid = proc.pid
    base = base_url
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise AssertionError("gunicorn exited: " + (tmp_path / "gunicorn.log").read_text()[-3000:])
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError as exc:
                if time.monotonic() > deadline:
                    raise AssertionError(
                        "gunicorn did not start: " + (tmp_path / "gunicorn.log").read_text()[-3000:]
                    ) from exc
                time.sleep(0.3)
        yield base
    finally:
        _stop(proc)
        log.close()


class Base(str):
    """The server's base URL; `.pid` is the gunicorn master's."""

    pid: int


def _stop(proc):
    """Stop the master and its workers (their own process group), so that no worker outlives the test."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # the workers leave after the master
            os.killpg(proc.pid, 0)
            time.sleep(0.2)
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        return  # the whole group is gone
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def log_text(tmp_path) -> str:
    return (tmp_path / "gunicorn.log").read_text()[-4000:]


@contextmanager
def scratch_database(prefix: str):
    """The URL of an empty database of its own on the test run's PostgreSQL server (skipped without
    PostgreSQL and Redis), dropped afterwards."""
    import psycopg

    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip("needs PostgreSQL: set DATABASE_URL (CI does)")
    if not settings.CELERY_BROKER_URL.startswith("redis://"):
        pytest.skip("needs Redis: set CELERY_BROKER_URL (CI does)")
    name = f"{prefix}_{os.getpid()}"
    admin = psycopg.connect(
        host=db["HOST"],
        port=db["PORT"] or 5432,
        user=db["USER"],
        password=db["PASSWORD"],
        dbname="postgres",
        autocommit=True,
    )
    admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
    admin.execute(f'CREATE DATABASE "{name}"')
    netloc = f"{urllib.parse.quote(db['USER'])}:{urllib.parse.quote(db['PASSWORD'])}@{db['HOST']}:{db['PORT'] or 5432}"
    try:
        yield f"postgres://{netloc}/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
