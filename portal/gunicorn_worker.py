"""gunicorn's gthread worker, made safe against idle and slow clients (issue 28, R1).

gthread hands a kept-alive connection back to a thread as soon as its socket is readable, and that
thread then reads the next request with a blocking socket and no time limit. Two ways froze a worker
(bench/README.md, "Idle keep-alive clients"):

- An early answer (401, 403, 404, 405, 413, 429) leaves the request's body unread. The connection was
  kept alive; when the late body arrived the thread drained it and blocked for the client's next
  request, which an idle till never sends. Now an answer given before the body was read says
  `Connection: close` and closes: the next bytes on that socket can only be the unread body.
- A client that sends half a request (a stalled link, slowloris) held the thread for ever. Now every
  read and write of a connection gives up after GUNICORN_READ_TIMEOUT seconds (default 10).

With GUNICORN_THREADS (default 4) a worker keeps answering while a few such clients hold threads
up to the read timeout; nginx in front (docs/deploy.md) buffers whole requests and so shields the
threads from slow clients altogether.

A graceful stop (SIGTERM: what `kill -HUP` of the master sends the old workers, and a rolling restart)
dropped the connections a worker had accepted but whose request it had not read yet: the client saw
"connection reset" or an empty answer (4 of 1,117 requests during three reloads; issue 30). Now the
worker stops accepting at once, answers every connection it holds (saying `Connection: close`), closes
the idle kept-alive ones, and then stops (within GUNICORN_DRAIN_SECONDS, default 10)."""

import os
import time

from gunicorn.workers.gthread import ThreadWorker

READ_TIMEOUT = float(os.environ.get("GUNICORN_READ_TIMEOUT", "10"))
DRAIN_SECONDS = float(os.environ.get("GUNICORN_DRAIN_SECONDS", "10"))


class CountingInput:
    """wsgi.input that knows whether the application read the whole body."""

    def __init__(self, stream, length: int | None):
        self._stream = stream
        self._left = length  # None: chunked (read until the reader says it is done)
        self.finished = length == 0

    def _count(self, data: bytes, size) -> bytes:
        if self._left is not None:
            self._left -= len(data)
            self.finished = self._left <= 0
        elif not data and size != 0:
            self.finished = True
        return data

    def read(self, size=None):
        return self._count(self._stream.read(size), size)

    def readline(self, size=None):
        return self._count(self._stream.readline(size), size)

    def readlines(self, hint=None):
        return [self._count(line, None) for line in self._stream.readlines(hint)]

    def __iter__(self):
        return iter(self.readline, b"")


def close_unread_bodies(app):
    """Wrap a WSGI application: an answer that leaves part of the request body unread closes the
    connection (gunicorn ignores an application's own Connection header)."""

    def wrapped(environ, start_response):
        length = environ.get("CONTENT_LENGTH") or ""
        chunked = environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked"
        if chunked or (length.isdigit() and int(length) > 0):
            stream = CountingInput(environ["wsgi.input"], None if chunked else int(length))
            environ["wsgi.input"] = stream
            response = getattr(start_response, "__self__", None)  # gunicorn's Response

            def start(status, headers, exc_info=None):
                if not stream.finished and response is not None:
                    response.force_close()
                return start_response(status, headers, exc_info)

            return app(environ, start)
        return app(environ, start_response)

    return wrapped


class SafeThreadWorker(ThreadWorker):
    """`worker_class = "portal.gunicorn_worker.SafeThreadWorker"` (portal/gunicorn_conf.py)."""

    def load_wsgi(self):
        super().load_wsgi()
        self.wsgi = close_unread_bodies(self.wsgi)

    def handle(self, conn):
        # gthread made the socket blocking with no limit just before handing it to this thread
        conn.sock.settimeout(READ_TIMEOUT)
        return super().handle(conn)

    # --- a graceful stop that refuses nothing ---------------------------------------------------
    _drain_until = None

    def handle_exit(self, sig, frame):
        """SIGTERM: drain instead of dropping (gthread set `alive = False` and left the loop at once)."""
        if self._drain_until is not None:
            return
        self._drain_until = time.monotonic() + min(DRAIN_SECONDS, self.cfg.graceful_timeout)
        self.max_keepalived = 0  # every answer from now on says Connection: close
        with self._lock:
            for sock in self.sockets:  # the other (new) workers take the next connections
                try:
                    self.poller.unregister(sock)
                except (KeyError, ValueError, OSError):
                    pass

    def murder_keepalived(self):
        """Called once a loop: while draining, idle kept-alive connections are closed at once, and the
        loop ends when no accepted connection is left unanswered (or the drain's time is up)."""
        if self._drain_until is not None:
            with self._lock:
                for conn in self._keep:
                    conn.timeout = 0
        super().murder_keepalived()
        if self._drain_until is not None:
            waiting = self.nr_conns - len(self._keep)
            if (waiting <= 0 and not self.futures) or time.monotonic() > self._drain_until:
                self.alive = False
