"""A member file's rows one by one: each column's cell checked on its own (`Importer.parse`), the
row's shape before the rules against the database and the rest of the file (check.py)."""

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from ..models import Gender, Store, Tier


class RowInvalid(Exception):
    def __init__(self, errors: dict):
        super().__init__(errors)
        self.errors = errors  # column → [message]


@dataclass
class Row:
    number: int
    key: str
    phone: str = ""
    member_no: str = ""
    name: str = ""
    gender: str = Gender.UNKNOWN
    birthday: object = None
    store: Store | None = None
    marketing_consent: bool = False
    consent_at: datetime | None = None
    joined_at: datetime | None = None
    cards: list = field(default_factory=list)
    points: int = 0
    expires_at: datetime | None = None
    pending_until: datetime | None = None
    growth: int | None = None
    tier: Tier | None = None
    sv_principal: Decimal = Decimal("0.00")
    sv_bonus: Decimal = Decimal("0.00")
    referrer_phone: str = ""
    tags: list = field(default_factory=list)
