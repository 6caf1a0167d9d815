"""The deployment files (issue 16). Docker is not on CI's machine, so the compose file is parsed
and checked: ordering, health checks, and that every command it runs exists in this tree. The
production smoke test (test_production_smoke.py) then runs those same commands without Docker."""

import fnmatch
import importlib
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.core.management import get_commands

from portal import healthcheck

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
APP_SERVICES = ("migrate", "web", "worker", "beat")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def command(service: dict) -> list[str]:
    cmd = service["command"]
    return shlex.split(cmd) if isinstance(cmd, str) else list(cmd)


def test_compose_is_valid_for_docker_when_docker_is_here():
    if not shutil.which("docker") or subprocess.run(["docker", "compose", "version"], capture_output=True).returncode:
        pytest.skip("no docker compose on this machine: the file is checked by the tests below")
    env_file = ROOT / ".env.production"
    created = not env_file.exists()
    if created:
        env_file.write_text((ROOT / ".env.production.example").read_text())
    try:
        result = subprocess.run(["docker", "compose", "config", "--quiet"], cwd=ROOT, capture_output=True, text=True)
    finally:
        if created:
            env_file.unlink()
    assert result.returncode == 0, result.stderr


def test_app_containers_start_after_a_successful_migrate(compose):
    services = compose["services"]
    for name in ("web", "worker", "beat"):
        depends = services[name]["depends_on"]
        assert depends["migrate"] == {"condition": "service_completed_successfully"}, name
        assert depends["db"] == {"condition": "service_healthy"}
        assert depends["redis"] == {"condition": "service_healthy"}
    migrate = services["migrate"]
    assert migrate["depends_on"] == {"db": {"condition": "service_healthy"}, "redis": {"condition": "service_healthy"}}
    assert migrate["restart"] == "no"
    for name in ("db", "redis"):
        assert services[name]["healthcheck"]["test"], name
    for name in ("web", "worker", "beat"):  # a process that exits is started again at once (R20)
        assert services[name]["restart"] in ("always", "unless-stopped"), name


def test_migrate_only_migrates_the_image_carries_static_files_and_catalogues(compose):
    """The defect: collectstatic and the catalogues ran in the migrate container's own filesystem."""
    assert command(compose["services"]["migrate"]) == ["python", "manage.py", "migrate", "--no-input"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    copy_all = dockerfile.index("COPY . .")
    assert dockerfile.index("RUN ./scripts/build_assets.sh") > copy_all
    script = (ROOT / "scripts/build_assets.sh").read_text()
    assert "collectstatic --no-input" in script and "babel.messages.frontend -q compile" in script
    for name in APP_SERVICES:
        for volume in compose["services"][name].get("volumes", []):
            assert "staticfiles" not in volume and "locale" not in volume


def test_exactly_one_beat_and_production_settings(compose):
    services = compose["services"]
    assert services["beat"]["deploy"]["replicas"] == 1
    for name in APP_SERVICES:
        env = services[name]["environment"]
        assert env["DEBUG"] == "0"
        assert env["DATABASE_URL"].startswith("postgres://") and env["CELERY_BROKER_URL"].startswith("redis://")
        assert services[name]["env_file"] == ".env.production"
    example = (ROOT / ".env.production.example").read_text()
    for key in ("SECRET_KEY=", "ALLOWED_HOSTS=", "CSRF_TRUSTED_ORIGINS="):
        assert key in example


def test_every_command_exists(compose):
    services = compose["services"]
    for name in APP_SERVICES:
        argv = command(services[name])
        program = argv[0]
        assert (BIN / program).exists() or shutil.which(program), (name, program)
        if program == "python":
            assert argv[1] == "manage.py" and argv[2] in get_commands(), argv
        elif program == "gunicorn":
            conf = argv[argv.index("-c") + 1]
            assert (ROOT / conf).is_file()
            importlib.import_module(argv[-1])  # portal.wsgi
        elif program == "celery":
            assert argv[1:3] == ["-A", "portal"] and argv[3] in ("worker", "beat")
            importlib.import_module("portal.celery")
        else:
            pytest.fail(f"{name}: unexpected program {program}")
    health = services["web"]["healthcheck"]["test"]
    assert health[:4] == ["CMD", "python", "-m", "portal.healthcheck"]


def test_health_check_passes_allowed_hosts_and_the_https_redirect():
    url, headers = healthcheck.url_and_headers({"ALLOWED_HOSTS": "member.example.com,.example.com"})
    assert url == "http://127.0.0.1:8000/healthz"
    assert headers == {"Host": "member.example.com", "X-Forwarded-Proto": "https"}
    url, headers = healthcheck.url_and_headers({"ALLOWED_HOSTS": ".example.com", "GUNICORN_BIND": "0.0.0.0:9000"})
    assert url == "http://127.0.0.1:9000/healthz" and headers["Host"] == "example.com"
    url, _ = healthcheck.url_and_headers({"GUNICORN_BIND": "10.0.0.5:8000"})  # a private address of its own
    assert url == "http://10.0.0.5:8000/healthz"


def test_dockerignore_keeps_the_developers_files_out():
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]

    def ignored(path):
        return any(
            fnmatch.fnmatch(path, p)
            or path.startswith(p.rstrip("/") + "/")
            or fnmatch.fnmatch(path, p.replace("**/", ""))
            for p in patterns
        )

    for path in (
        ".venv/bin/python",
        "var/portal.sqlite3",
        ".env",
        ".env.production",
        ".git/HEAD",
        "portal/__pycache__/x.pyc",
        "locale/zh_Hans/LC_MESSAGES/django.mo",
        "db.sqlite3",
        "deploy/tls/privkey.pem",
    ):
        assert ignored(path), path
    for path in (
        "manage.py",
        "portal/settings/base.py",
        "locale/zh_Hans/LC_MESSAGES/django.po",
        "static/css/site.css",
        "requirements.txt",
        "scripts/build_assets.sh",
    ):
        assert not ignored(path), path


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_gunicorn_master_leaves_no_database_connection_to_its_workers(on_postgres, monkeypatch, tmp_path):
    """The defect the smoke test found: the deploy checks in gunicorn's master opened a connection
    that every forked worker inherited and shared ("prepared statement already exists", 503). Since
    issue 30 they run in a child process: the master opens none (and imports no Django to reload)."""
    from django.db import connection

    from portal import gunicorn_conf

    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    (tmp_path / "counter_1.db").write_bytes(b"stale")
    connection.close()
    # the browser tests set this for this process; the deploy checks (a child process) refuse it. Only
    # after close(): with a browser's event loop in this thread, Django reads it on every query.
    monkeypatch.delenv("DJANGO_ALLOW_ASYNC_UNSAFE", raising=False)
    gunicorn_conf.on_starting(server=None)
    assert connection.connection is None
    assert list(tmp_path.iterdir()) == []  # stale metrics of the last run cleared


def test_gunicorn_refuses_to_start_when_the_deploy_checks_fail(monkeypatch):
    from portal import gunicorn_conf

    monkeypatch.setenv("DEBUG", "0")  # production, with the demo's published secret: refused
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="deploy checks refused"):
        gunicorn_conf.on_starting(server=None)


def test_gunicorn_binds_loopback_unless_told(monkeypatch, compose):
    """Issue 30: behind NUM_PROXIES the client's address comes from X-Forwarded-For, so a gunicorn that
    clients reach directly lets each choose its own address (0.0.0.0 was the default)."""
    import importlib

    from portal import gunicorn_conf

    monkeypatch.delenv("GUNICORN_BIND", raising=False)
    assert importlib.reload(gunicorn_conf).bind == "127.0.0.1:8000"
    monkeypatch.setenv("GUNICORN_BIND", "10.0.0.5:8000")
    assert importlib.reload(gunicorn_conf).bind == "10.0.0.5:8000"
    monkeypatch.delenv("GUNICORN_BIND")
    importlib.reload(gunicorn_conf)
    # the image listens on its container's interface, which compose publishes to no host port at all
    assert "GUNICORN_BIND=0.0.0.0:8000" in (ROOT / "Dockerfile").read_text()
    assert "ports" not in compose["services"]["web"]


def test_compose_proxy_is_the_only_way_in_and_web_scales(compose):
    """Issue 30: web published one host port (127.0.0.1:8000), so `--scale web=3` failed, and the TLS
    proxy was expected on the host. Now the proxy service terminates TLS in front of every replica
    (deploy/nginx.conf, run for real by test_nginx_proxy.py)."""
    services = compose["services"]
    web, proxy = services["web"], services["proxy"]
    assert "ports" not in web and web["expose"] == ["8000"]
    assert web["environment"]["NUM_PROXIES"] == "1"  # the proxy's X-Forwarded-For, and only it
    assert web["environment"]["DATABASE_URL"] == services["worker"]["environment"]["DATABASE_URL"]
    for name, service in services.items():  # nothing else reaches the host's network
        assert name in ("proxy",) or "ports" not in service, name
    assert proxy["image"].startswith("nginx:")
    assert sorted(proxy["ports"]) == ["443:443", "80:80"]
    assert "./deploy/nginx.conf:/etc/nginx/templates/default.conf.template:ro" in proxy["volumes"]
    certs = [v for v in proxy["volumes"] if v.startswith("./deploy/tls:")]
    assert certs == [f"./deploy/tls:{proxy['environment']['PORTAL_TLS_DIR']}:ro"]
    assert (ROOT / "deploy/tls/.gitignore").is_file()  # the directory the operator fills exists
    assert proxy["environment"]["PORTAL_UPSTREAM"] == "web:8000 resolve"  # every replica, re-resolved
    assert proxy["environment"]["PORTAL_RESOLVER"] == "127.0.0.11"  # Docker's DNS
    assert (proxy["environment"]["PORTAL_HTTP_LISTEN"], proxy["environment"]["PORTAL_HTTPS_LISTEN"]) == ("80", "443")
    assert proxy["depends_on"] == {"web": {"condition": "service_healthy"}}
    assert proxy["restart"] == "unless-stopped"
    # the key is the operator's: never committed, never copied into the image
    assert "deploy/tls" in (ROOT / ".dockerignore").read_text().split()
