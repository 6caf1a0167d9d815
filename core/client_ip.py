"""The client's address, read one way by every limit: the API's per-address throttle and the member
pages' sign-in and code limits."""

from rest_framework.throttling import BaseThrottle


def client_ip(request) -> str | None:
    """REMOTE_ADDR; behind NUM_PROXIES trusted proxies, the address the outermost of them saw (the
    right-hand end of X-Forwarded-For that they wrote). DRF's own rule, so both sides agree; what a
    client writes into X-Forwarded-For itself is ignored."""
    return BaseThrottle().get_ident(request) or None
