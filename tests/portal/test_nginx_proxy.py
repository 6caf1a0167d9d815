"""The TLS proxy (issue 30): deploy/nginx.conf, the one nginx file of docker-compose.yml's `proxy`
service and of a web machine's nginx, run for real in front of the project's gunicorn.

Debian's nginx (CI installs it, like PgBouncer) with the repository's file, its ${PORTAL_…} names filled
in the way the official image's templates are (envsubst of the variables that are set, nothing else),
a self-signed certificate made with openssl as docs/deploy.md says, gunicorn with NUM_PROXIES=1 and
the production HTTPS redirect. Over HTTPS and HTTP: /healthz answers, a page is served as secure (the
proxy said X-Forwarded-Proto: https), plain HTTP is redirected but for /healthz and /metrics, the
client address the portal counts (the staff sign-in lockout) is the one nginx saw and not one the client
wrote into X-Forwarded-For, and nginx keeps its connection to gunicorn open."""

import http.client
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from .gunicorn_run import ROOT, free_port, gunicorn

TEMPLATE = ROOT / "deploy" / "nginx.conf"
VARIABLES = ("PORTAL_UPSTREAM", "PORTAL_RESOLVER", "PORTAL_TLS_DIR", "PORTAL_HTTP_LISTEN", "PORTAL_HTTPS_LISTEN")
HOST = "portal.test"
CLIENT = "127.0.0.2"  # the client's own loopback address: nginx reaches gunicorn from 127.0.0.1
SPOOFED = "203.0.113.7"
TOKEN = "metrics-token-for-the-proxy-test"


def render(text: str, values: dict) -> str:
    """What the official nginx image's 20-envsubst-on-templates.sh does: `envsubst "${A} ${B} …"` with
    the variables set in its environment, so `$host` and the other nginx variables stay as they are."""
    for name, value in values.items():
        text = text.replace("${" + name + "}", value)
    return text


def test_the_template_uses_exactly_the_documented_variables_and_compose_sets_them():
    text = TEMPLATE.read_text()
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    assert set(re.findall(r"\$\{(\w+)\}", body)) == set(VARIABLES)
    assert not re.search(r"\$PORTAL_", body), "envsubst also replaces $NAME: only ${NAME} in the template"
    proxy = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["proxy"]
    assert set(proxy["environment"]) >= set(VARIABLES)
    for name in VARIABLES:  # and the host command in the file's header names each of them
        assert "${" + name + "}" in text.split("resolver ")[0]


def _nginx() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if not found:
        pytest.skip("needs nginx: apt-get install nginx (CI does)")
    return found


def _certificate(directory: Path) -> None:
    """The self-signed pair of docs/deploy.md ("Docker compose"), with the test's names in it."""
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-keyout", str(directory / "privkey.pem"), "-out", str(directory / "fullchain.pem"),
            "-subj", f"/CN={HOST}", "-addext", f"subjectAltName=DNS:{HOST},IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip


class Proxy:
    def __init__(self, http_port: int, https_port: int, upstream_port: int, tls_dir: Path):
        self.http_port, self.https_port, self.upstream_port = http_port, https_port, upstream_port
        self.context = ssl.create_default_context(cafile=str(tls_dir / "fullchain.pem"))

    def request(self, method: str, path: str, *, tls: bool = True, headers: dict | None = None, body=None):
        """(status, headers, body) of one request from CLIENT's address, Host: portal.test."""
        if tls:
            conn = http.client.HTTPSConnection(
                "127.0.0.1", self.https_port, context=self.context, timeout=20, source_address=(CLIENT, 0)
            )
        else:
            conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=20, source_address=(CLIENT, 0))
        try:
            conn.request(method, path, body=body, headers={"Host": HOST, **(headers or {})})
            response = conn.getresponse()
            return response.status, response.headers, response.read()
        finally:
            conn.close()


def _wait_for_port(port: int, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 20
    while True:
        if proc.poll() is not None:
            raise AssertionError("nginx exited: " + log.read_text()[-3000:])
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            assert time.monotonic() < deadline, "nginx did not start: " + log.read_text()[-3000:]
            time.sleep(0.1)


@pytest.fixture
def proxy(on_postgres, tmp_path):
    binary = _nginx()
    tls = tmp_path / "tls"
    tls.mkdir()
    _certificate(tls)
    # the release's static files (the 404 page names some): gunicorn serves PORTAL_VAR_DIR=tmp_path
    env = {**os.environ, "PORTAL_VAR_DIR": str(tmp_path), "PORTAL_LOCALE_DIR": str(tmp_path / "locale")}
    subprocess.run(
        ["scripts/build_assets.sh"], cwd=ROOT, env={**env, "PYTHON": sys.executable}, check=True, capture_output=True
    )
    with gunicorn(
        tmp_path,
        workers=1,
        env={"ALLOWED_HOSTS": HOST, "NUM_PROXIES": "1", "SECURE_SSL_REDIRECT": "1", "METRICS_TOKEN": TOKEN},
    ) as base:
        upstream_port = int(base.rsplit(":", 1)[1])
        http_port, https_port = free_port(), free_port()
        conf = tmp_path / "nginx"
        for sub in ("logs", "temp"):
            (conf / sub).mkdir(parents=True)
        (conf / "portal.conf").write_text(
            render(
                TEMPLATE.read_text(),
                {
                    "PORTAL_UPSTREAM": f"127.0.0.1:{upstream_port}",
                    "PORTAL_RESOLVER": "127.0.0.1",
                    "PORTAL_TLS_DIR": str(tls),
                    "PORTAL_HTTP_LISTEN": f"127.0.0.1:{http_port}",
                    "PORTAL_HTTPS_LISTEN": f"127.0.0.1:{https_port}",
                },
            )
        )
        # the main file the image (or Debian) brings, reduced to what a non-root nginx under tmp needs
        user = "user root;\n" if os.geteuid() == 0 else ""  # as root the workers would be nobody's
        temp = conf / "temp"
        (conf / "nginx.conf").write_text(
            f"daemon off;\nworker_processes 1;\npid {conf}/nginx.pid;\nerror_log {conf}/logs/error.log info;\n{user}"
            "events { worker_connections 128; }\n"
            "http {\n"
            f"  access_log {conf}/logs/access.log;\n"
            f"  client_body_temp_path {temp}/body; proxy_temp_path {temp}/proxy; fastcgi_temp_path {temp}/fcgi;\n"
            f"  uwsgi_temp_path {temp}/uwsgi; scgi_temp_path {temp}/scgi;\n"
            f"  include {conf}/portal.conf;\n"
            "}\n"
        )
        command = [binary, "-p", str(conf), "-c", str(conf / "nginx.conf"), "-e", str(conf / "logs" / "error.log")]
        checked = subprocess.run([*command, "-t"], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stderr
        log = conf / "logs" / "error.log"
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            _wait_for_port(https_port, proc, log)
            _wait_for_port(http_port, proc, log)
            yield Proxy(http_port, https_port, upstream_port, tls)
        finally:
            proc.send_signal(signal.SIGQUIT)  # graceful: the workers finish and leave with the master
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def _established_to(port: int) -> int:
    """Open TCP connections whose far end is `port` on this machine (Linux's /proc/net/tcp)."""
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[2].split(":")[1], 16) == port and fields[3] == "01":  # rem_address, st = ESTABLISHED
            count += 1
    return count


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_nginx_terminates_tls_forwards_the_client_and_redirects_plain_http(proxy):
    from core.models import LoginThrottle

    # HTTPS: the health check, and a request served as secure: with SECURE_SSL_REDIRECT on, a missing
    # X-Forwarded-Proto would answer a redirect to https here, and Django sends HSTS on secure requests only
    status, _, body = proxy.request("GET", "/healthz")
    assert status == 200, body
    status, headers, body = proxy.request("GET", "/api/v1/mall/items/")
    assert status == 401, (status, headers.get("Location"))  # no token: the API's answer, not a redirect
    assert headers["Strict-Transport-Security"].startswith("max-age=")

    # plain HTTP: a redirect to the same URL over HTTPS, but for /healthz and /metrics
    status, headers, _ = proxy.request("GET", "/admin/login/?next=/admin/", tls=False)
    assert status == 301 and headers["Location"] == f"https://{HOST}/admin/login/?next=/admin/"
    status, _, _ = proxy.request("POST", "/api/v1/sales/", tls=False, body=b"{}")
    assert status == 301
    status, _, body = proxy.request("GET", "/healthz", tls=False)
    assert status == 200 and b'"database": "ok"' in body.replace(b'":"', b'": "')
    # /metrics through a proxy: its token or nothing, never the proxy's loopback address
    assert proxy.request("GET", "/metrics", tls=False)[0] == 404
    status, _, body = proxy.request("GET", "/metrics", tls=False, headers={"Authorization": f"Bearer {TOKEN}"})
    assert status == 200 and b"portal_http_requests_total" in body
    assert proxy.request("GET", "/metrics", headers={"Authorization": f"Bearer {TOKEN}"})[0] == 200

    # the client's address as the portal counts it: a wrong staff password is counted for the address
    # nginx saw (127.0.0.2; nginx itself reaches gunicorn from 127.0.0.1), not for the address the
    # client wrote into X-Forwarded-For
    status, _, _ = proxy.request(
        "POST",
        "/api/v1/auth/token/",
        headers={"Content-Type": "application/json", "X-Forwarded-For": SPOOFED},
        body=b'{"username": "nobody-here", "password": "wrong-password"}',
    )
    assert status in (400, 401)
    keys = set(LoginThrottle.objects.values_list("key", flat=True))
    assert f"staff:nobody-here@{CLIENT}" in keys and f"staff-ip:{CLIENT}" in keys, keys
    assert not [key for key in keys if SPOOFED in key or key.endswith("@127.0.0.1")], keys

    # upstream keep-alive: the connection nginx used stays open for the next request
    for _ in range(3):
        assert proxy.request("GET", "/healthz")[0] == 200
    assert _established_to(proxy.upstream_port) >= 1
