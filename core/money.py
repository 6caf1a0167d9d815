"""Money: Decimal yuan with two places. Every money helper of the application is here: rounding down
(`money`), exact to the fen (`to_cents`), reading an amount that must be whole fen (`in_cents`), and
the API's text form (`text`)."""

from decimal import ROUND_DOWN, Decimal

CENT = Decimal("0.01")


def money(value) -> Decimal:
    """A Decimal with exactly two places, rounded down (never in the member's disfavour twice)."""
    return Decimal(value).quantize(CENT, rounding=ROUND_DOWN)


def to_cents(value) -> Decimal:
    """A value exact to the fen (half to even): a database sum (SQLite adds decimals as floats, so
    0.20 can come back as 0.200000000000003), a ratio of money, a share. None and "" are 0.00."""
    return Decimal(value or 0).quantize(CENT)


def in_cents(value) -> Decimal | None:
    """An amount as typed or sent ("12.3", 12, Decimal): the Decimal when it is a finite number of
    whole fen, else None (the caller names the field in its error)."""
    try:
        amount = Decimal(str(value))
    except Exception:
        return None
    if not amount.is_finite() or amount != amount.quantize(CENT):
        return None
    return amount


def text(value) -> str:
    """The API's and the exports' form of an amount: "12.30"."""
    return f"{value:.2f}"
