"""Issue 28, R1: idle keep-alive clients must not freeze a gunicorn worker.

With gthread, one thread and keep-alive, a request whose body arrived after the portal had already
answered (401, 403, 404, 405, 413, 429: the body is never read) left the connection kept alive;
when the late body arrived the worker's only thread drained it and then blocked in `recv` waiting
for that client's next request. Every other connection the worker accepted waited behind it: three
such clients hung every one of 30 other requests. A slow client that sends half a request line holds
a thread the same way. Real gunicorn, one worker, real sockets."""

import socket
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest

from .gunicorn_run import get, gunicorn, log_text

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _read_response(sock: socket.socket) -> bytes:
    """Read one response's head and its Content-Length body."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        chunk = sock.recv(4096)
        if not chunk:
            break
        body += chunk
    return head


def _late_body_client(host: str, port: int, path: str) -> tuple[socket.socket, bytes]:
    """Send a POST's headers, read the early answer, then send the body and sit idle."""
    body = b'{"receipt_no": "R1-late-body"}'
    sock = socket.create_connection((host, port), timeout=4)
    sock.sendall(
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n".encode()
    )
    try:
        head = _read_response(sock)
    except TimeoutError:  # the worker's thread is held by an earlier client
        head = b"(no answer)"
    time.sleep(0.2)
    try:
        sock.sendall(body)
    except OSError:
        pass  # the server closed the connection after its early answer: what we want
    return sock, head


def _slow_client(host: str, port: int) -> socket.socket:
    """Half a request, then nothing (a stalled link, or slowloris)."""
    sock = socket.create_connection((host, port), timeout=10)
    sock.sendall(b"GET /api/v1/members/lookup/ HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    return sock


def _burst(base: str, n: int = 30) -> list:
    """n parallel lookups without a token: each answered 401 at once unless it waits behind a thread."""

    def one(_i):
        started = time.monotonic()
        try:
            status, _ = get(f"{base}/api/v1/members/lookup/?q=13800138000", timeout=8)
        except OSError as exc:  # timed out waiting behind a frozen thread
            status = type(exc).__name__
        return status, time.monotonic() - started

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(one, range(n)))


def test_idle_clients_after_early_answers_do_not_freeze_the_worker(on_postgres, tmp_path):
    with gunicorn(tmp_path, workers=1) as base:
        url = urlsplit(base)
        idle = [_late_body_client(url.hostname, url.port, "/api/v1/sales/") for _ in range(3)]
        time.sleep(0.5)  # the late bodies have arrived; the clients now sit idle
        results = _burst(base)
        for sock, _ in idle:
            sock.close()
    statuses = [status for status, _ in results]
    assert statuses == [401] * 30, (statuses, log_text(tmp_path))
    heads = [head.split(b"\r\n", 1)[0] for _sock, head in idle]
    assert all(b" 401 " in h for h in heads), heads


def test_an_early_answer_closes_a_connection_whose_body_was_not_read(on_postgres, tmp_path):
    """The root: the portal answered before reading the body, so it says `Connection: close` and
    closes, instead of keeping alive a socket whose next bytes are the unread body."""
    with gunicorn(tmp_path, workers=1) as base:
        url = urlsplit(base)
        sock, head = _late_body_client(url.hostname, url.port, "/api/v1/sales/")
        sock.settimeout(5)
        try:
            rest = sock.recv(100)  # b"" once the server has closed
        except ConnectionResetError:
            rest = b""
        sock.close()
    assert b"connection: close" in head.lower(), head
    assert rest == b""


def test_slow_clients_do_not_freeze_the_worker(on_postgres, tmp_path):
    with gunicorn(tmp_path, workers=1) as base:
        url = urlsplit(base)
        slow = [_slow_client(url.hostname, url.port) for _ in range(3)]
        time.sleep(0.5)
        results = _burst(base)
        for sock in slow:
            sock.close()
    statuses = [status for status, _ in results]
    assert statuses == [401] * 30, (statuses, log_text(tmp_path))
