"""A throwaway redis-server for the tests that kill, restart or empty their broker (R9, R10, R20):
never the shared Redis of CELERY_BROKER_URL / CACHE_URL."""

import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

needs_redis_server = pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server (CI has it)")


class RedisServer:
    """A throwaway redis-server on `port`: nothing saved, so a restart starts empty."""

    def __init__(self, port: int, log: Path):
        self.port, self.log, self.proc = port, log, None

    def start(self):
        cmd = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.proc = subprocess.Popen(cmd + ["--daemonize", "no"], stdout=self.log.open("a"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"redis-server on {self.port} did not start: {self.log.read_text()[-2000:]}")

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"
