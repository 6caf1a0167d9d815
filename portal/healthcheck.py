"""Container health check: `python -m portal.healthcheck` exits 0 when this machine's gunicorn
answers /healthz with 200.

It asks this machine's gunicorn at its GUNICORN_BIND (over loopback when that is loopback or every
address) the way the load balancer would: with a Host the portal accepts (the first
of ALLOWED_HOSTS) and `X-Forwarded-Proto: https`, so neither ALLOWED_HOSTS nor the HTTPS redirect
of the production settings turns it away. Standard library only: it must not start Django.
"""

import ipaddress
import os
import sys
import urllib.error
import urllib.request


def url_and_headers(environ=os.environ) -> tuple[str, dict]:
    bind = environ.get("GUNICORN_BIND", "127.0.0.1:8000")
    address, port = bind.rsplit(":", 1)
    address = _where_to_ask(address)
    hosts = [h.strip() for h in environ.get("ALLOWED_HOSTS", "localhost").split(",") if h.strip()]
    host = next((h.lstrip(".") for h in hosts if h != "*"), "localhost")
    return f"http://{address}:{port}/healthz", {"Host": host, "X-Forwarded-Proto": "https"}


def _where_to_ask(address: str) -> str:
    """Loopback for a bind to every address (or none given), else the bound address itself."""
    try:
        unspecified = ipaddress.ip_address(address.strip("[]") or "::").is_unspecified
    except ValueError:  # a host name
        return address
    return "127.0.0.1" if unspecified else address


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
