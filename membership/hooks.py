"""Hooks other apps register at start-up, so membership can ask without importing them.

`earn_multiplier_providers`: callables (member, at) → Decimal; the earn rule applies the largest
active campaign multiplier (product.md, Points: "the largest active campaign multiplier")."""

from decimal import Decimal

earn_multiplier_providers: list = []


def register_earn_multiplier(provider) -> None:
    if provider not in earn_multiplier_providers:
        earn_multiplier_providers.append(provider)


def largest_campaign_multiplier(member, at) -> Decimal:
    values = [Decimal(p(member, at)) for p in earn_multiplier_providers]
    return max([Decimal(1), *values])


# `member_merge_movers`: callables (source, target) run inside the merge transaction, with both
# members locked: each app moves the rows it keeps about the member (coupons, mall orders, sales ...).
# `member_close_erasers`: callables (member) run inside the close transaction: each app erases the
# personal data it keeps about the member (ledgers and sales stay).
member_merge_movers: list = []
member_close_erasers: list = []


def register_merge_mover(mover) -> None:
    if mover not in member_merge_movers:
        member_merge_movers.append(mover)


def register_close_eraser(eraser) -> None:
    if eraser not in member_close_erasers:
        member_close_erasers.append(eraser)
