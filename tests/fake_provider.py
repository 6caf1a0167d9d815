"""A provider's HTTP endpoints played locally: a tiny threaded HTTP server on 127.0.0.1 that
records every request and answers from a script, so the channel adapters run their real SDK or
HTTP code against it with no network."""

import json
import threading
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

HANG = object()  # answer nothing until the server closes: the client's read times out


@dataclass
class Request:
    method: str
    path: str
    query: dict
    headers: dict
    body: bytes

    @property
    def json(self):
        return json.loads(self.body or b"null")


class FakeProvider:
    def __init__(self):
        self.requests: list[Request] = []
        self.answers: deque = deque()
        self.routes: dict[str, object] = {}  # path → answer (or a function giving one) when the queue is empty
        self._closing = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self):
                parts = urlsplit(self.path)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                fake.requests.append(
                    Request(
                        self.command,
                        parts.path,
                        dict(parse_qsl(parts.query)),
                        {k.lower(): v for k, v in self.headers.items()},
                        body,
                    )
                )
                answer = fake.answers.popleft() if fake.answers else fake.routes.get(parts.path, (200, {}))
                if callable(answer):
                    answer = answer()
                if answer is HANG:
                    fake._closing.wait(10)
                    return
                status, payload = answer
                out = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            do_GET = do_POST = _handle

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def answer(self, *answers):
        self.answers.extend(answers)

    def close(self):
        self._closing.set()
        self.server.shutdown()
        self.server.server_close()
