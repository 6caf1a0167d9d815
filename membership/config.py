"""The program's settings, tiers and staged earn rates, read once per process and kept for a short while.

Every sale and lookup needs them and they change a few times a year, in admin. A save in this
process clears the copy at once (signals in MembershipConfig.ready); other processes see the change
within TTL seconds."""

import time

from .models import EarnStage, PaidCardProduct, ProgramSettings, Tier

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


def tier(tier_id: int) -> Tier:
    """The tier with this id from the kept list (a tier added in another process within TTL seconds
    is read from the database)."""
    found = next((t for t in tiers() if t.pk == tier_id), None)
    return found if found is not None else Tier.objects.get(pk=tier_id)


def stages() -> list[EarnStage]:
    """Staged earn rates (阶梯), lowest threshold first; empty when the base rate applies throughout."""
    return _get("stages", lambda: list(EarnStage.objects.order_by("from_amount")))


def paid_card_product(product_id: int) -> PaidCardProduct:
    """A paid card product from the kept list (one added within TTL seconds is read from the database)."""
    found = next(
        (p for p in _get("paid_cards", lambda: list(PaidCardProduct.objects.all())) if p.pk == product_id), None
    )
    return found if found is not None else PaidCardProduct.objects.get(pk=product_id)


def next_tier(tier: Tier) -> Tier | None:
    return next((t for t in tiers() if t.rank > tier.rank), None)


def growth_to_next(member) -> tuple[Tier | None, int]:
    """The next tier and the growth the member still needs for it (None, 0 at the top): the one
    place this is worked out (the summary, the counter and the sale preview read it)."""
    nxt = next_tier(tier(member.tier_id))
    if nxt is None:
        return None, 0
    return nxt, max(0, nxt.reach_growth - member.growth_value)


def clear(**kwargs) -> None:
    _cache.clear()
