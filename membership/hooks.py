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
