"""Money: Decimal yuan with two places."""

from decimal import ROUND_DOWN, Decimal

CENT = Decimal("0.01")


def money(value) -> Decimal:
    """A Decimal with exactly two places, rounded down (never in the member's disfavour twice)."""
    return Decimal(value).quantize(CENT, rounding=ROUND_DOWN)
