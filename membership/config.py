"""The program's settings and tiers, read once per process and kept for a short while.

Every sale and lookup needs them and they change a few times a year, in admin. A save in this
process clears the copy at once (signals in MembershipConfig.ready); other processes see the change
within TTL seconds."""

import time

from .models import ProgramSettings, Tier

TTL = 30.0
_cache: dict = {}


def _get(key, load):
    hit = _cache.get(key)
    if hit is None or time.monotonic() - hit[0] > TTL:
        hit = (time.monotonic(), load())
        _cache[key] = hit
    return hit[1]


def program() -> ProgramSettings:
    return _get("program", ProgramSettings.load)


def tiers() -> list[Tier]:
    """All tiers, lowest rank first."""
    return _get("tiers", lambda: list(Tier.objects.order_by("rank")))


def next_tier(tier: Tier) -> Tier | None:
    return next((t for t in tiers() if t.rank > tier.rank), None)


def clear(**kwargs) -> None:
    _cache.clear()
