"""Settings come from the environment; production refuses the demo's secrets."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import override_settings

from portal import checks

ROOT = Path(__file__).resolve().parents[2]
STRONG_SECRET = "x9-" + "k" * 30 + "-production-secret-for-tests"


SETTINGS_VARIABLES = {
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "DEBUG",
    "SECRET_KEY",
    "SECRET_KEY_FALLBACKS",
    "ALLOWED_HOSTS",
    "NUM_PROXIES",
    "DB_SERVER_SIDE_BINDING",
    "CACHE_URL",
    "DJANGO_ALLOW_ASYNC_UNSAFE",
    "WEBHOOK_ENCRYPTION_KEYS",
}
FERNET_KEY = "nV1mO3m0f1rC8eNq1pJv0dYkq5v2Yk9a1l0W7xkQ3Zs="  # a Fernet key for the tests (32 bytes, base64)


def clean_environ() -> dict:
    """The test process's environment without the variables these tests set themselves."""
    return {k: v for k, v in os.environ.items() if k not in SETTINGS_VARIABLES}


def run_python(code: str, **env) -> subprocess.CompletedProcess:
    """Run `code` in a fresh interpreter with only the given settings variables set."""
    base = clean_environ()
    base.update(DJANGO_SETTINGS_MODULE="portal.settings", **env)
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=base, capture_output=True, text=True, timeout=60)


def test_database_and_broker_come_from_environment(tmp_path):
    result = run_python(
        "import django; django.setup(); from django.conf import settings as s;"
        "d = s.DATABASES['default'];"
        "print(d['ENGINE'], d['NAME'], d['HOST'], d['PORT'], s.CELERY_BROKER_URL, s.DEBUG, s.ALLOWED_HOSTS)",
        DATABASE_URL="postgres://portal:pw@db.internal:5433/portal_prod",
        CELERY_BROKER_URL="redis://cache.internal:6379/2",
        DEBUG="0",
        SECRET_KEY=STRONG_SECRET,
        ALLOWED_HOSTS="member.example.com",
        PORTAL_VAR_DIR=str(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "django.db.backends.postgresql",
        "portal_prod",
        "db.internal",
        "5433",
        "redis://cache.internal:6379/2",
        "False",
        "['member.example.com']",
    ]


def test_embedded_default_is_sqlite_in_wal_mode_and_filesystem_broker(tmp_path):
    result = run_python(
        "import django; django.setup(); from django.conf import settings as s; from django.db import connection;"
        "c = connection.cursor(); c.execute('PRAGMA journal_mode'); print(c.fetchone()[0]);"
        "print(s.CELERY_BROKER_URL, s.CELERY_BROKER_TRANSPORT_OPTIONS['data_folder_in'])",
        PORTAL_VAR_DIR=str(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    journal, broker, folder = result.stdout.split()
    assert journal == "wal"
    assert broker == "filesystem://"
    assert Path(folder).is_dir() and Path(folder).parent == tmp_path


def test_production_refuses_the_default_secret(tmp_path):
    result = run_python(
        "import django; django.setup()", DEBUG="0", ALLOWED_HOSTS="member.example.com", PORTAL_VAR_DIR=str(tmp_path)
    )
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr and "ImproperlyConfigured" in result.stderr


def test_every_production_process_refuses_a_key_shorter_than_the_deploy_checks_do(tmp_path):
    """Settings refused keys under 40 characters while `check --deploy` wanted 50: a worker or beat,
    which run no deploy check, started on a 45-character key the web refused. One length now."""
    key = secrets.token_urlsafe(64)[:45]
    result = run_python(
        "import django; django.setup()",
        DEBUG="0",
        ALLOWED_HOSTS="member.example.com",
        PORTAL_VAR_DIR=str(tmp_path),
        SECRET_KEY=key,
    )
    assert result.returncode != 0 and "at least 50 characters" in result.stderr
    result = run_python(
        "import django; django.setup()",
        DEBUG="0",
        ALLOWED_HOSTS="member.example.com",
        PORTAL_VAR_DIR=str(tmp_path),
        SECRET_KEY=secrets.token_urlsafe(64)[:50],
    )
    assert result.returncode == 0, result.stderr


def test_production_refuses_a_wildcard_host(tmp_path):
    result = run_python(
        "import django; django.setup()",
        DEBUG="0",
        SECRET_KEY=STRONG_SECRET,
        ALLOWED_HOSTS="*",
        PORTAL_VAR_DIR=str(tmp_path),
    )
    assert result.returncode != 0
    assert "ALLOWED_HOSTS" in result.stderr


def check_deploy(tmp_path, *options, **env):
    """`manage.py check --deploy` on production settings (with `env` over them; None removes one)."""
    production = {
        **clean_environ(),
        "DEBUG": "0",
        "SECRET_KEY": STRONG_SECRET,
        "ALLOWED_HOSTS": "member.example.com",
        "DATABASE_URL": "postgres://portal:pw@127.0.0.1:1/nowhere",
        "CELERY_BROKER_URL": "redis://127.0.0.1:1/0",
        "CACHE_URL": "redis://127.0.0.1:1/1",
        "PORTAL_VAR_DIR": str(tmp_path),
        "WEBHOOK_ENCRYPTION_KEYS": FERNET_KEY,
    }
    production = {k: v for k, v in {**production, **env}.items() if v is not None}
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", *options],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=production,
    )


def test_check_deploy_passes_with_production_settings(tmp_path):
    result = check_deploy(tmp_path, "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_warns_when_webhook_secrets_have_no_key_of_their_own(tmp_path):
    """Issue 32: without WEBHOOK_ENCRYPTION_KEYS the endpoints' secrets are encrypted under SECRET_KEY
    and lost with it after a rotation: production is told."""
    result = check_deploy(tmp_path, WEBHOOK_ENCRYPTION_KEYS=None)
    assert "portal.W007" in result.stdout + result.stderr and "WEBHOOK_ENCRYPTION_KEYS" in result.stdout + result.stderr


def test_check_deploy_warns_about_a_per_process_cache(tmp_path):
    """Issue 12: throttles count in the cache; a per-process one lets each gunicorn worker allow the rate."""
    result = check_deploy(tmp_path, "--fail-level", "ERROR", CACHE_URL=None)
    assert result.returncode == 0, result.stdout + result.stderr  # a warning: gunicorn still starts
    assert "portal.W004" in result.stderr + result.stdout


def test_seed_demo_is_refused_in_production(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "seed_demo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={
            **clean_environ(),
            "DEBUG": "0",
            "SECRET_KEY": STRONG_SECRET,
            "ALLOWED_HOSTS": "member.example.com",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}",
            "PORTAL_VAR_DIR": str(tmp_path),
        },
    )
    assert result.returncode != 0
    assert "refused with DEBUG=0" in result.stderr


@pytest.mark.django_db
def test_production_check_names_demo_accounts_that_keep_demo_passwords(demo_staff):
    with override_settings(PRODUCTION=True):
        errors = checks.check_demo_passwords()
    assert [e.id for e in errors] == ["portal.E001"]
    assert "admin, clerk1, clerk2, manager1" in errors[0].msg

    for user in demo_staff.values():
        user.set_password("a-long-private-password-" + user.username)
        user.save()
    with override_settings(PRODUCTION=True):
        assert checks.check_demo_passwords() == []


@pytest.mark.django_db
def test_demo_passwords_are_fine_while_debugging(demo_staff):
    with override_settings(PRODUCTION=False):
        assert checks.check_demo_passwords() == []
    call_command("check")  # does not raise


@pytest.mark.parametrize(
    "env, expected",
    [
        ({}, "True 5 False"),
        ({"DB_SERVER_SIDE_BINDING": "0"}, "False None False"),
        ({"DATABASE_POOLER": "pgbouncer"}, "False None True"),
        ({"DATABASE_POOLER": "pgbouncer", "DB_SERVER_SIDE_BINDING": "1"}, "True 5 True"),  # PgBouncer 1.21+
    ],
)
def test_postgresql_prepares_repeated_statements_unless_turned_off_or_behind_pgbouncer(env, expected):
    result = run_python(
        "import django; django.setup(); from django.conf import settings as s;"
        "d = s.DATABASES['default']; o = d['OPTIONS'];"
        "print(o['server_side_binding'], o['prepare_threshold'], d['DISABLE_SERVER_SIDE_CURSORS'])",
        DATABASE_URL="postgres://portal:pw@db.internal:5432/portal_prod",
        **env,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[-2] == expected


def test_an_unknown_pooler_is_refused():
    result = run_python(
        "import django; django.setup()",
        DATABASE_URL="postgres://portal:pw@db.internal:5432/portal_prod",
        DATABASE_POOLER="pgpool",
    )
    assert result.returncode != 0
    assert "DATABASE_POOLER='pgpool': leave it empty or set pgbouncer" in result.stderr


def test_the_trusted_proxy_count_comes_from_the_environment():
    code = "import django; django.setup(); from rest_framework.settings import api_settings as a;print(a.NUM_PROXIES)"
    assert run_python(code).stdout.split("\n")[-2] == "0"
    assert run_python(code, NUM_PROXIES="1").stdout.split("\n")[-2] == "1"


def example_env_value(name: str) -> str:
    for line in (ROOT / ".env.production.example").read_text().splitlines():
        if line.startswith(name + "="):
            return line.split("=", 1)[1].strip()
    raise AssertionError(f"{name} is not in .env.production.example")


def test_check_deploy_refuses_the_example_files_placeholder_secret(tmp_path):
    """Issue 30: a copy of .env.production.example left unfilled passed the gate gunicorn runs."""
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "ERROR"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={
            **clean_environ(),
            "DEBUG": "0",
            "SECRET_KEY": example_env_value("SECRET_KEY"),
            "ALLOWED_HOSTS": "member.example.com",
            "DATABASE_URL": "postgres://portal:pw@127.0.0.1:1/nowhere",
            "CELERY_BROKER_URL": "redis://127.0.0.1:1/0",
            "CACHE_URL": "redis://127.0.0.1:1/1",
            "PORTAL_VAR_DIR": str(tmp_path),
        },
    )
    assert result.returncode != 0
    assert "portal.E005" in result.stderr + result.stdout


@pytest.mark.parametrize(
    "key",
    [
        "django-insecure-" + "a1b2c3d4e5" * 5,  # Django's generated placeholder
        "Zx9-" + "q" * 20 + "-private",  # random-looking but shorter than 50
        "ab" * 40,  # long but of two characters
    ],
)
def test_check_deploy_refuses_placeholder_and_weak_secrets(key):
    with override_settings(PRODUCTION=True, SECRET_KEY=key):
        assert [e.id for e in checks.check_secret_key()] == ["portal.E005"]
    with override_settings(PRODUCTION=True, SECRET_KEY=STRONG_SECRET, SECRET_KEY_FALLBACKS=[STRONG_SECRET[::-1], key]):
        errors = checks.check_secret_key()
    assert [e.id for e in errors] == ["portal.E006"] and "number 2" in errors[0].msg
    with override_settings(PRODUCTION=False, SECRET_KEY=key):
        assert checks.check_secret_key() == []  # the demo and the tests run with the demo key


def test_check_deploy_accepts_a_generated_secret():
    import secrets

    with override_settings(PRODUCTION=True, SECRET_KEY=secrets.token_urlsafe(38), SECRET_KEY_FALLBACKS=[STRONG_SECRET]):
        assert checks.check_secret_key() == []
