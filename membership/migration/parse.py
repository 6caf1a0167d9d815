"""A member file's row, parsed: each column's cell checked on its own (`RowParser.parse`), the row's
shape before the rules against the database and the rest of the file (check.py). No database."""

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal

from django.utils.translation import gettext as _

from core.clock import tz
from core.errors import MembershipError
from core.spreadsheets import MSG_FORMULA, Formula, is_formula

from .. import identity
from ..models import Gender, Store, Tier
from ..services import cards, enrolment
from .cells import as_date, as_datetime, as_money, as_text, as_whole, domain_text
from .columns import (
    COLUMNS,
    FALSE_WORDS,
    GENDER_WORDS,
    MAX_CELL,
    MEMBER_NO_RE,
    MSG_CELL_TOO_LONG,
    MSG_FULL_WIDTH,
    MSG_NAME_LENGTH,
    NAME_LENGTH,
    NUMERIC_COLUMNS,
    TRUE_WORDS,
)


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


class _Cells:
    """The row being parsed: its cells as given (`raw`: a spreadsheet gives dates and numbers) and as
    text, and the errors found so far, by column. A cell that cannot be read at all (a formula with no
    saved result, more than MAX_CELL characters) is its column's one error, and reads as empty."""

    __slots__ = ("raw", "text", "errors", "unread")

    def __init__(self, raw: dict):
        self.raw = raw
        self.text = text = {c: as_text(raw.get(c)) for c in COLUMNS}
        self.errors: dict[str, list] = {}
        self.unread: frozenset = frozenset()
        # the common case at C speed: no cell too long, no formula (a second per million rows otherwise)
        if max(map(len, text.values())) > MAX_CELL or Formula in {*map(type, raw.values())}:
            self._unreadable()

    def _unreadable(self) -> None:
        raw, text = self.raw, self.text
        unread = [c for c in COLUMNS if len(text[c]) > MAX_CELL or is_formula(raw.get(c))]
        for c in unread:
            if is_formula(raw.get(c)):
                self.bad(c, MSG_FORMULA)
            else:
                self.bad(c, MSG_CELL_TOO_LONG % {"length": len(text[c]), "max": MAX_CELL})
            text[c] = ""
        self.raw = {**raw, **dict.fromkeys(unread, "")}
        self.unread = frozenset(unread)

    def bad(self, column: str, message) -> None:
        if column not in self.unread:  # an unreadable cell has said so; an empty one says no more
            self.errors.setdefault(column, []).append(str(message))

    def ok(self, column: str) -> bool:
        """No error in the column yet (a full-width digit, say): its cell is worth reading."""
        return column not in self.errors


class RowParser:
    """Parses rows against the stores (by code; None for HQ and regions, which are no home store) and tiers (by code) and the import's time `at` (`today` its
    local date). Each row gets a key, a hash of its cells and its occurrence in the file, from which
    its entries' idempotency keys are made."""

    def __init__(self, *, stores: dict, tiers: dict, at: datetime, today: date):
        self.stores, self.tiers, self.at, self.today = stores, tiers, at, today
        self.key_counts: Counter = Counter()
        self.steps = (  # in this order: a later step reads a column only when an earlier one found it good
            self._full_width,
            self._member,
            self._home_store,
            self._consent,
            self._times,
            self._member_no,
            self._cards,
            self._whole_numbers,
            self._lot,
            self._tier,
            self._stored_value,
            self._referrer,
            self._tags,
        )

    def parse(self, raw: dict, number: int) -> Row:
        """One row's columns, each checked on its own; raises RowInvalid naming every bad column."""
        cells = _Cells(raw)
        row = Row(number=number, key=self._key(cells.text))
        for step in self.steps:
            step(row, cells)
        if cells.errors:
            raise RowInvalid(cells.errors)
        return row

    def _key(self, text: dict) -> str:
        base = hashlib.sha1("\x1f".join(text.values()).encode(), usedforsecurity=False).hexdigest()[:32]
        self.key_counts[base] += 1
        return f"{base}:{self.key_counts[base]}"

    def _full_width(self, row: Row, cells: _Cells) -> None:
        for column in NUMERIC_COLUMNS:
            if not cells.text[column].isascii():
                cells.bad(column, MSG_FULL_WIDTH)

    def _member(self, row: Row, cells: _Cells) -> None:
        """Name, phone, birthday and gender: the enrolment's rules."""
        row.name = cells.text["name"]
        if len(row.name) > NAME_LENGTH:  # refused, not cut
            cells.bad("name", MSG_NAME_LENGTH % {"length": NAME_LENGTH})
        if cells.ok("phone"):
            try:
                row.phone = identity.normalise_phone(cells.text["phone"])
            except MembershipError as exc:
                cells.bad("phone", domain_text(exc))
        if cells.ok("birthday"):
            try:
                value = cells.raw.get("birthday")
                row.birthday = enrolment.Birthday.parse(value if isinstance(value, date) else cells.text["birthday"])
            except MembershipError as exc:
                cells.bad("birthday", domain_text(exc))
        gender = cells.text["gender"]
        row.gender = GENDER_WORDS.get(gender.lower(), gender.upper())  # anything else: `check` says so

    def _home_store(self, row: Row, cells: _Cells) -> None:
        code = cells.text["home_store"]
        if not code:
            cells.bad("home_store", _("Give the code of the member's home store."))
        elif code not in self.stores:
            cells.bad("home_store", _("No store has the code %(code)s.") % {"code": code})
        elif (store := self.stores[code]) is None:
            cells.bad(
                "home_store", _("%(code)s is HQ or a region, not a shop: give the member's home shop.") % {"code": code}
            )
        else:
            row.store = store

    def _consent(self, row: Row, cells: _Cells) -> None:
        consent = cells.raw.get("marketing_consent")
        consent = consent if isinstance(consent, bool) else as_text(consent).lower()
        if consent is True or consent in TRUE_WORDS:
            row.marketing_consent = True
        elif not (consent is False or consent in FALSE_WORDS):
            cells.bad("marketing_consent", _("Enter 1 (yes) or 0 (no)."))

    def _times(self, row: Row, cells: _Cells) -> None:
        for column in ("joined_at", "consent_at"):
            if not cells.ok(column):
                continue
            try:
                at = as_datetime(cells.raw.get(column))
            except ValueError as exc:
                cells.bad(column, exc)
                continue
            if at is not None and at > self.at:
                cells.bad(
                    column,
                    _("The joining time cannot be in the future.")
                    if column == "joined_at"
                    else _("The consent time cannot be in the future."),
                )
            setattr(row, column, at)

    def _member_no(self, row: Row, cells: _Cells) -> None:
        member_no = cells.text["member_no"]
        if member_no and cells.ok("member_no") and not MEMBER_NO_RE.match(member_no):
            cells.bad("member_no", _("A member number is 1 to 12 digits or letters."))
        row.member_no = member_no

    def _cards(self, row: Row, cells: _Cells) -> None:
        numbers = [n for n in cells.text["card_no"].split(";") if n.strip()]
        if not cells.ok("card_no"):
            return
        for n in numbers:
            try:
                row.cards.append(cards.normalise_number(n))
            except MembershipError as exc:
                cells.bad("card_no", f"{domain_text(exc)} ({n.strip()})")
        if len(set(row.cards)) != len(row.cards):
            cells.bad("card_no", _("The row repeats a card number."))

    def _whole_numbers(self, row: Row, cells: _Cells) -> None:
        for column in ("points", "growth_value"):
            if not cells.ok(column):
                continue
            try:
                value = as_whole(cells.raw.get(column), column=column)
            except ValueError as exc:
                cells.bad(column, exc)
                continue
            if column == "points":
                row.points = value or 0
            else:
                row.growth = value

    def _lot(self, row: Row, cells: _Cells) -> None:
        """The points lot's expiry and the time until which it is pending."""
        if cells.ok("points_expire_on"):
            try:
                expire_on = as_date(cells.raw.get("points_expire_on"))
            except ValueError as exc:
                cells.bad("points_expire_on", exc)
            else:
                if expire_on is not None:
                    if expire_on < self.today:
                        cells.bad("points_expire_on", _("This expiry date has passed."))
                    row.expires_at = datetime.combine(expire_on, time(23, 59, 59), tzinfo=tz())
        if cells.ok("points_pending_until"):
            try:
                row.pending_until = as_datetime(cells.raw.get("points_pending_until"))
            except ValueError as exc:
                cells.bad("points_pending_until", exc)
        if (row.expires_at or row.pending_until) and not row.points and cells.ok("points"):
            cells.bad("points", _("Give the points of the lot that expires or is pending."))

    def _tier(self, row: Row, cells: _Cells) -> None:
        tier_code = cells.text["tier"]
        if tier_code:
            row.tier = self.tiers.get(tier_code)
            if row.tier is None:
                cells.bad(
                    "tier",
                    _("No tier has the code %(code)s. Tiers: %(codes)s.")
                    % {"code": tier_code, "codes": ", ".join(self.tiers)},
                )

    def _stored_value(self, row: Row, cells: _Cells) -> None:
        for column in ("sv_principal", "sv_bonus"):
            if not cells.ok(column):
                continue
            try:
                setattr(row, column, as_money(cells.raw.get(column)))
            except ValueError as exc:
                cells.bad(column, exc)

    def _referrer(self, row: Row, cells: _Cells) -> None:
        referrer = cells.text["referrer_phone"]
        if referrer and cells.ok("referrer_phone"):
            try:
                row.referrer_phone = identity.normalise_phone(referrer)
            except MembershipError as exc:
                cells.bad("referrer_phone", domain_text(exc))

    def _tags(self, row: Row, cells: _Cells) -> None:
        text = cells.text["tags"]
        row.tags = sorted({t.strip() for t in text.split(";") if t.strip()}) if text else []
        if any(len(t) > 50 for t in row.tags):
            cells.bad("tags", _("A tag is at most 50 characters."))
