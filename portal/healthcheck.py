"""Container health check: `python -m portal.healthcheck` exits 0 when this machine's gunicorn
answers /healthz with 200.

It asks over loopback the way the load balancer would: with a Host the portal accepts (the first
of ALLOWED_HOSTS) and `X-Forwarded-Proto: https`, so neither ALLOWED_HOSTS nor the HTTPS redirect
of the production settings turns it away. Standard library only: it must not start Django.
"""

import os
import sys
import urllib.error
import urllib.request


def url_and_headers(environ=os.environ) -> tuple[str, dict]:
    bind = environ.get("GUNICORN_BIND", "0.0.0.0:8000")
    port = bind.rsplit(":", 1)[-1]
    hosts = [h.strip() for h in environ.get("ALLOWED_HOSTS", "localhost").split(",") if h.strip()]
    host = next((h.lstrip(".") for h in hosts if h != "*"), "localhost")
    return f"http://127.0.0.1:{port}/healthz", {"Host": host, "X-Forwarded-Proto": "https"}


def main() -> int:
    url, headers = url_and_headers()
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5) as response:  # nosec B310
            ok = response.status == 200
    except (urllib.error.URLError, OSError) as exc:
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
