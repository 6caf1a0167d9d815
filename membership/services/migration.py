"""Go-live migration: members from a previous system with their balances, lots, cards and tiers
(issue 13; product.md, "Membership and cards", "What bad input gets").

One importer serves every entry point: the `import_members` command, the background import job
(Celery, admin progress bar) and the admin's row-by-row preview (resources.MemberResource).

Rules (docs/decisions.md, "Member migration"):
- A row is checked in two steps: its columns' shape (`parse`), then against the database and the
  rest of the file (`check`): phone taken, member number taken, card taken, unknown referrer.
  Every error is kept with its row number and column.
- A member is one phone. A later row of the same phone adds lots and stored value only when it
  gives the same `member_no` (a member with several lots); otherwise it is a duplicate phone.
  A phone that belongs to a member imported before (channel import, same member number when one
  is given) is that member again: only what is missing is written, so re-running a file changes
  nothing. A phone of a member enrolled any other way is refused.
- Balances enter the ledgers as entries with source/reference `import` and an idempotency key
  built from the file row (a hash of its cells and its occurrence in the file); the cached
  balances follow the same rules as points.py (`_add_to_balances`) and stored_value.py.
- The whole file is one transaction: a file with a bad row writes nothing unless bad rows are to
  be skipped. A dry run does everything and rolls back, so its figures are what would be written.
- Imported members get no welcome or activation scene, no notification and no task: nothing here
  sends a signal (enrolment.enrol does, for members who sign up).
- Valid rows are written in batches with bulk statements (COPY on PostgreSQL)."""

import csv
import gc
import hashlib
import io
import json
import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from types import SimpleNamespace

from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.clock import local, now, tz
from core.errors import MembershipError
from core.money import CENT
from core.rows import copy as copy_rows

from .. import config
from ..models import (
    AuditLog,
    Card,
    Channel,
    Gender,
    GrowthEntry,
    Member,
    PointsEntry,
    Store,
    StoredValueEntry,
    Tag,
    Tier,
    TierChange,
)
from . import cards, enrolment
from .points import _add_to_balances

COLUMNS = (
    "member_no",
    "phone",
    "name",
    "gender",
    "birthday",
    "home_store",
    "marketing_consent",
    "consent_at",
    "joined_at",
    "card_no",
    "points",
    "points_expire_on",
    "points_pending_until",
    "growth_value",
    "tier",
    "sv_principal",
    "sv_bonus",
    "referrer_phone",
    "tags",
)
REQUIRED = ("phone", "home_store")
BATCH_ROWS = 5000
SOURCE = "import"
OPENING_REASON = "opening balance (import)"

TRUE_WORDS = {"1", "true", "yes", "y", "是", "同意"}
FALSE_WORDS = {"", "0", "false", "no", "n", "否", "不同意"}
GENDER_WORDS = {
    "": Gender.UNKNOWN,
    "u": Gender.UNKNOWN,
    "f": Gender.FEMALE,
    "female": Gender.FEMALE,
    "女": Gender.FEMALE,
    "m": Gender.MALE,
    "male": Gender.MALE,
    "男": Gender.MALE,
}
NUMERIC_COLUMNS = (
    "member_no",
    "phone",
    "card_no",
    "points",
    "points_expire_on",
    "points_pending_until",
    "growth_value",
    "sv_principal",
    "sv_bonus",
    "referrer_phone",
    "consent_at",
    "joined_at",
    "birthday",
)
MEMBER_NO_RE = re.compile(r"^[0-9A-Za-z]{1,12}$")

MSG_FULL_WIDTH = gettext_lazy("Use ordinary (half-width) digits 0-9 and letters, not full-width ones.")
MSG_PHONE_TAKEN = gettext_lazy("This mobile number already belongs to a member.")
MSG_NEGATIVE_POINTS = gettext_lazy("Points cannot be negative.")
MSG_WHOLE_NUMBER = gettext_lazy("Enter a whole number.")
MSG_MONEY = gettext_lazy("Enter an amount of zero or more with at most two decimals.")
MSG_DATE = gettext_lazy("Enter a date as YYYY-MM-DD.")
MSG_DATETIME = gettext_lazy("Enter a time as YYYY-MM-DD or YYYY-MM-DD HH:MM.")


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


@dataclass
class Figures:
    rows: int = 0
    members: int = 0
    cards: int = 0
    points: int = 0
    sv_principal: Decimal = Decimal("0.00")
    sv_bonus: Decimal = Decimal("0.00")

    def add_row(self, row: Row) -> None:
        self.cards += len(row.cards)
        self.points += row.points
        self.sv_principal += row.sv_principal
        self.sv_bonus += row.sv_bonus


@dataclass
class Result:
    """The reconciliation: what the file holds and what was (or, in a dry run, would be) written."""

    dry_run: bool = False
    skip_bad_rows: bool = False
    in_file: Figures = field(default_factory=Figures)
    written: Figures = field(default_factory=Figures)
    errors: list = field(default_factory=list)  # (row number, column, message)
    base_errors: list = field(default_factory=list)
    rolled_back: bool = False

    @property
    def bad_rows(self) -> int:
        return len({number for number, _column, _message in self.errors})

    @property
    def committed(self) -> bool:
        return not self.dry_run and not self.rolled_back

    def table(self) -> list[tuple[str, str, str]]:
        f, w = self.in_file, self.written
        return [
            (_("rows read"), str(f.rows), str(w.rows)),
            (_("rows with errors"), str(self.bad_rows), ""),
            (_("members"), str(f.members), str(w.members)),
            (_("cards"), str(f.cards), str(w.cards)),
            (_("points"), str(f.points), str(w.points)),
            (_("stored value principal"), f"{f.sv_principal:.2f}", f"{w.sv_principal:.2f}"),
            (_("stored value bonus"), f"{f.sv_bonus:.2f}", f"{w.sv_bonus:.2f}"),
        ]

    def as_dict(self) -> dict:
        return {
            "dry_run": self.dry_run,
            "skip_bad_rows": self.skip_bad_rows,
            "rolled_back": self.rolled_back,
            "table": self.table(),
            "errors": [list(e) for e in self.errors[:1000]],
            "error_count": len(self.errors),
            "bad_rows": self.bad_rows,
            "base_errors": [str(e) for e in self.base_errors],
        }


def _text(value) -> str:
    if type(value) is str:  # a CSV cell: the common case first
        return value.strip()
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _aware(at: datetime) -> datetime:
    return timezone.make_aware(at, tz()) if timezone.is_naive(at) else at


def _parse_datetime(value, message=MSG_DATETIME) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return _aware(value)
    if isinstance(value, date):
        return _aware(datetime.combine(value, time.min))
    text = _text(value)
    try:
        at = parse_datetime(text) or (datetime.combine(d, time.min) if (d := parse_date(text)) else None)
    except ValueError:
        at = None
    if at is None:
        raise ValueError(message)
    return _aware(at)


def _parse_date(value) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        d = parse_date(_text(value))
    except ValueError:
        d = None
    if d is None:
        raise ValueError(MSG_DATE)
    return d


def _whole(value, *, column: str) -> int | None:
    text = _text(value)
    if not text:
        return None
    if re.fullmatch(r"-[0-9]+", text):
        raise ValueError(MSG_NEGATIVE_POINTS if column == "points" else MSG_WHOLE_NUMBER)
    if not re.fullmatch(r"[0-9]+", text):
        raise ValueError(MSG_WHOLE_NUMBER)
    return int(text)


def _money(value) -> Decimal:
    text = _text(value)
    if not text:
        return Decimal("0.00")
    if not re.fullmatch(r"[0-9]+(\.[0-9]{1,2})?", text):
        raise ValueError(MSG_MONEY)
    try:
        return Decimal(text).quantize(CENT)
    except InvalidOperation as exc:
        raise ValueError(MSG_MONEY) from exc


def _domain(exc: MembershipError) -> str:
    from ..forms import domain_message

    return str(domain_message(exc))


class Importer:
    """Import rows (dicts keyed by column) in batches; see the module's docstring for the rules.

    `tier_floor_until`: the date until which a tier given in the file is kept as a floor (reason
    "migration"); without it the tier is computed from the growth value."""

    def __init__(
        self,
        *,
        acting_user=None,
        dry_run: bool = False,
        skip_bad_rows: bool = False,
        tier_floor_until: date | None = None,
        batch_rows: int = BATCH_ROWS,
        progress=None,
    ):
        self.user = acting_user if getattr(acting_user, "pk", None) else None
        self.result = Result(dry_run=dry_run, skip_bad_rows=skip_bad_rows)
        self.tier_floor_until = tier_floor_until
        self.batch_rows = batch_rows
        self.progress = progress
        self.at = now()
        self.today = local(self.at).date()
        self.program = config.program()
        self.stores = {s.code: s for s in Store.objects.all()}
        self.tiers = {t.code: t for t in Tier.objects.order_by("rank")}
        self.tier_list = list(self.tiers.values())
        self.phones_in_file: dict[str, str] = {}  # phone → member_no given on its first row ("" if none)
        self.member_nos_in_file: dict[str, str] = {}  # member_no → phone
        self.cards_in_file: dict[str, str] = {}  # card number → phone
        self.key_counts: Counter = Counter()
        self.member_ids: dict[str, int] = {}  # phone → id, members of this file
        self.pending_referrers: list[tuple[int, str, int]] = []  # (member id, referrer phone, row number)
        self.tag_ids: dict[str, int] = {}
        self.file_phones: set[str] = set()
        # member numbers, referral codes and virtual card numbers this import drew: a batch not yet
        # written is not in the database, and the next batch's draws must not collide with it
        self.drawn: dict[str, set[str]] = {"member_no": set(), "referral_code": set(), "card": set()}
        # reads for checks (see _Writer): the import's own connection unless a writer gives another
        self.reader = connection
        self.drain = lambda: None

    # ---------------------------------------------------------------- shape of one row

    def parse(self, raw: dict, number: int) -> Row:
        """One row's columns, each checked on its own; raises RowInvalid naming every bad column."""
        text = {c: _text(raw.get(c)) for c in COLUMNS}
        base = hashlib.sha1("\x1f".join(text.values()).encode()).hexdigest()[:32]
        self.key_counts[base] += 1
        row = Row(number=number, key=f"{base}:{self.key_counts[base]}")
        errors: dict[str, list] = {}

        def bad(column, message):
            errors.setdefault(column, []).append(str(message))

        for column in NUMERIC_COLUMNS:
            if not text[column].isascii():
                bad(column, MSG_FULL_WIDTH)
        row.name = text["name"]
        if "phone" not in errors:
            try:
                row.phone = enrolment.normalise_phone(text["phone"])
            except MembershipError as exc:
                bad("phone", _domain(exc))
        if "birthday" not in errors:
            try:
                value = raw.get("birthday")
                row.birthday = enrolment.Birthday.parse(value if isinstance(value, date) else text["birthday"])
            except MembershipError as exc:
                bad("birthday", _domain(exc))
        gender = text["gender"]
        row.gender = GENDER_WORDS.get(gender.lower(), gender.upper())  # anything else: `check` says so
        code = text["home_store"]
        if not code:
            bad("home_store", _("Give the code of the member's home store."))
        elif (store := self.stores.get(code)) is None:
            bad("home_store", _("No store has the code %(code)s.") % {"code": code})
        else:
            row.store = store
        consent = raw.get("marketing_consent")
        consent = consent if isinstance(consent, bool) else _text(consent).lower()
        if consent is True or consent in TRUE_WORDS:
            row.marketing_consent = True
        elif not (consent is False or consent in FALSE_WORDS):
            bad("marketing_consent", _("Enter 1 (yes) or 0 (no)."))
        for column in ("joined_at", "consent_at"):
            if column in errors:
                continue
            try:
                at = _parse_datetime(raw.get(column))
            except ValueError as exc:
                bad(column, exc)
                continue
            if at is not None and at > self.at:
                bad(
                    column,
                    _("The joining time cannot be in the future.")
                    if column == "joined_at"
                    else _("The consent time cannot be in the future."),
                )
            setattr(row, column, at)
        member_no = text["member_no"]
        if member_no and "member_no" not in errors and not MEMBER_NO_RE.match(member_no):
            bad("member_no", _("A member number is 1 to 12 digits or letters."))
        row.member_no = member_no
        numbers = [n for n in text["card_no"].split(";") if n.strip()]
        if "card_no" not in errors:
            for n in numbers:
                try:
                    row.cards.append(cards.normalise_number(n))
                except MembershipError as exc:
                    bad("card_no", f"{_domain(exc)} ({n.strip()})")
            if len(set(row.cards)) != len(row.cards):
                bad("card_no", _("The row repeats a card number."))
        for column in ("points", "growth_value"):
            if column in errors:
                continue
            try:
                value = _whole(raw.get(column), column=column)
            except ValueError as exc:
                bad(column, exc)
                continue
            if column == "points":
                row.points = value or 0
            else:
                row.growth = value
        if "points_expire_on" not in errors:
            try:
                expire_on = _parse_date(raw.get("points_expire_on"))
            except ValueError as exc:
                bad("points_expire_on", exc)
            else:
                if expire_on is not None:
                    if expire_on < self.today:
                        bad("points_expire_on", _("This expiry date has passed."))
                    row.expires_at = datetime.combine(expire_on, time(23, 59, 59), tzinfo=tz())
        if "points_pending_until" not in errors:
            try:
                row.pending_until = _parse_datetime(raw.get("points_pending_until"))
            except ValueError as exc:
                bad("points_pending_until", exc)
        if (row.expires_at or row.pending_until) and not row.points and "points" not in errors:
            bad("points", _("Give the points of the lot that expires or is pending."))
        tier_code = text["tier"]
        if tier_code:
            row.tier = self.tiers.get(tier_code)
            if row.tier is None:
                bad(
                    "tier",
                    _("No tier has the code %(code)s. Tiers: %(codes)s.")
                    % {"code": tier_code, "codes": ", ".join(self.tiers)},
                )
        for column in ("sv_principal", "sv_bonus"):
            if column in errors:
                continue
            try:
                setattr(row, column, _money(raw.get(column)))
            except ValueError as exc:
                bad(column, exc)
        referrer = text["referrer_phone"]
        if referrer and "referrer_phone" not in errors:
            try:
                row.referrer_phone = enrolment.normalise_phone(referrer)
            except MembershipError as exc:
                bad("referrer_phone", _domain(exc))
        row.tags = sorted({t.strip() for t in text["tags"].split(";") if t.strip()}) if text["tags"] else []
        if any(len(t) > 50 for t in row.tags):
            bad("tags", _("A tag is at most 50 characters."))
        if errors:
            raise RowInvalid(errors)
        return row

    # ---------------------------------------------------------------- rules against the database

    def check(self, rows: list[Row]) -> tuple[list[Row], dict[int, dict]]:
        """The rows' rules against the database and the file so far. Returns (valid rows, errors by row
        number); a valid row is marked `.new` (creates its member) or `.member_id` (a member of an earlier
        row or an earlier import)."""
        errors: dict[int, dict] = {}

        def bad(row, column, message):
            errors.setdefault(row.number, {}).setdefault(column, []).append(str(message))

        phones = {r.phone for r in rows} | {r.referrer_phone for r in rows if r.referrer_phone}
        existing = {
            phone: SimpleNamespace(pk=pk, phone=phone, member_no=no, channel=channel)
            for pk, phone, no, channel, status in _lookup(
                Member, "phone", phones, ("id", "phone", "member_no", "channel", "status"), using=self.reader
            )
            if status == Member.Status.ACTIVE
        }
        numbers = {r.member_no for r in rows if r.member_no}
        nos_taken = dict(_lookup(Member, "member_no", numbers, ("member_no", "phone"), using=self.reader))
        all_cards = {n for r in rows for n in r.cards}
        known_cards = {
            number: SimpleNamespace(pk=pk, number=number, status=status, member_id=member_id)
            for pk, number, status, member_id in _lookup(
                Card, "number", all_cards, ("id", "number", "status", "member_id"), using=self.reader
            )
        }
        valid = []
        for row in rows:
            row.new, row.member_id = False, None
            if row.gender not in Gender.values:
                bad(row, "gender", _("Gender is F, M or U."))
            first_no = self.phones_in_file.get(row.phone)
            member = existing.get(row.phone)
            if first_no is not None:  # a later row of a phone seen in this file
                if not (first_no and row.member_no == first_no):
                    bad(row, "phone", MSG_PHONE_TAKEN)
            elif member is not None:
                if member.channel != Channel.IMPORT or (row.member_no and row.member_no != member.member_no):
                    bad(row, "phone", MSG_PHONE_TAKEN)
            elif row.member_no and (row.member_no in nos_taken or row.member_no in self.member_nos_in_file):
                bad(row, "member_no", _("The member number %(no)s belongs to another member.") % {"no": row.member_no})
            member_id = self.member_ids.get(row.phone) or (member.pk if member is not None else None)
            for number in row.cards:
                holder = self.cards_in_file.get(number)
                card = known_cards.get(number)
                if holder is not None and holder != row.phone:
                    bad(row, "card_no", _("Card %(card)s is given to another member in this file.") % {"card": number})
                elif card is not None and card.member_id and card.member_id != member_id:
                    bad(row, "card_no", _("Card %(card)s belongs to another member.") % {"card": number})
                elif card is not None and not card.member_id and card.status != Card.Status.STOCK:
                    bad(row, "card_no", _("Card %(card)s is blocked.") % {"card": number})
            if (
                row.referrer_phone
                and row.referrer_phone not in existing
                and row.referrer_phone not in self.phones_in_file
                and row.referrer_phone not in self.all_phones
            ):
                bad(
                    row,
                    "referrer_phone",
                    _("No member has the mobile number %(phone)s.") % {"phone": row.referrer_phone},
                )
            if row.referrer_phone == row.phone:
                bad(row, "referrer_phone", _("A member cannot refer themselves."))
            if row.number in errors:
                continue
            # the row is valid: remember it for the rest of the file
            if first_no is None:
                self.phones_in_file[row.phone] = row.member_no
                if row.member_no:
                    self.member_nos_in_file[row.member_no] = row.phone
                row.new = member is None
            for number in row.cards:
                self.cards_in_file[number] = row.phone
            row.member_id = member_id
            valid.append(row)
        return valid, errors

    all_phones: frozenset = frozenset()

    # ---------------------------------------------------------------- running a file

    def run(self, rows, total: int | None = None) -> Result:
        """Import an iterable of row dicts (the first data row is row 1). One transaction; rolled back
        for a dry run, or when a row is bad and bad rows are not to be skipped."""
        result = self.result
        # the checks read committed rows through a second connection while a batch is written, when
        # nothing uncommitted of the caller's could be missed: the import is the whole transaction
        side_reader = not connection.in_atomic_block
        with _fewer_collections(), transaction.atomic(), _Writer(side_reader=side_reader) as writer:
            self.reader, self.drain = writer.reader, writer.wait
            batch = []
            done = 0
            for number, raw in enumerate(rows, start=1):
                batch.append((number, raw))
                if len(batch) >= self.batch_rows:
                    self._batch(batch, writer)
                    done += len(batch)
                    batch = []
                    if self.progress:
                        self.progress(done, total)
            if batch:
                self._batch(batch, writer)
                done += len(batch)
            writer.wait()
            self.reader, self.drain = connection, lambda: None
            if self.can_write():
                self._link_referrers()
            self.result.in_file.members = len(self.file_phones)
            if self.progress:
                self.progress(done, total)
            if result.dry_run or not self.can_write():
                result.rolled_back = not result.dry_run
                transaction.set_rollback(True)
        if result.rolled_back:
            result.written = Figures()
        return result

    def can_write(self) -> bool:
        return not self.result.base_errors and (self.result.skip_bad_rows or not self.result.errors)

    def _batch(self, numbered, writer: "_Writer") -> None:
        """Parse a batch (no database: it runs while the writer still writes the batch before), check
        it (through the second connection, or once that write is done when there is none) and hand
        its valid rows to the writer."""
        parsed = []
        for number, raw in numbered:
            self.result.in_file.rows += 1
            try:
                row = self.parse(raw, number)
            except RowInvalid as exc:
                self._keep_errors(number, exc.errors)
                self.file_phones.add(_phone_or_blank(raw.get("phone")) or _text(raw.get("phone")))
                self._in_file_figures(raw)
                continue
            self.file_phones.add(row.phone)
            self.result.in_file.add_row(row)
            parsed.append(row)
        if self.reader is connection:
            writer.wait()  # the checks read through the connection the writer is using
        valid, errors = self.check(parsed)
        for number, errs in sorted(errors.items()):
            self._keep_errors(number, errs)
        if self.can_write() and valid:
            writer.submit(self.write(valid))

    def _in_file_figures(self, raw) -> None:
        """A bad row still counts in the file's figures, as far as its cells read."""
        figures = self.result.in_file
        figures.cards += len([n for n in _text(raw.get("card_no")).split(";") if n.strip()])
        for column in ("points",):
            try:
                figures.points += _whole(raw.get(column), column=column) or 0
            except ValueError:
                pass
        for column in ("sv_principal", "sv_bonus"):
            try:
                setattr(figures, column, getattr(figures, column) + _money(raw.get(column)))
            except ValueError:
                pass

    def _keep_errors(self, number: int, errors: dict) -> None:
        for column in sorted(errors, key=lambda c: COLUMNS.index(c) if c in COLUMNS else len(COLUMNS)):
            for message in errors[column]:
                self.result.errors.append((number, column, str(message)))

    # ---------------------------------------------------------------- writing valid rows

    def write(self, rows: list[Row]) -> "BulkWriter":
        """Write valid rows: new members with their card, tier change, growth and audit entry; lots and
        stored value for every row whose key is not used yet. Bulk statements; members in id order.
        Reads what it needs now; the writes are planned in the returned writer (`flush`), which on
        PostgreSQL runs in the import's writer thread (`_Writer`)."""
        at, w = self.at, self.result.written
        writer = BulkWriter()
        new_rows = [r for r in rows if r.new]
        ids = writer.reserve_ids(Member, len(new_rows), using=self.reader)
        entry = self.tier_list[0]
        members = []
        for row, pk in zip(new_rows, ids):
            growth = row.growth or 0
            reached = max((t for t in self.tier_list if t.reach_growth <= growth), key=lambda t: t.rank, default=entry)
            floor = row.tier if (row.tier is not None and self.tier_floor_until) else None
            tier = floor if floor is not None and floor.rank >= reached.rank else reached
            joined = row.joined_at or at
            consent_at = (row.consent_at or joined) if row.marketing_consent else None
            member_no = row.member_no or enrolment._new_member_no()
            members.append(
                dict(
                    id=pk,
                    member_no=member_no,
                    phone=row.phone,
                    name=row.name[:50],
                    gender=row.gender,
                    birth_year=row.birthday.year if row.birthday else None,
                    birth_month=row.birthday.month if row.birthday else None,
                    birth_day=row.birthday.day if row.birthday else None,
                    home_store_id=row.store.pk,
                    channel=Channel.IMPORT,
                    enrolled_by_id=self.user.pk if self.user else None,
                    joined_at=joined,
                    referral_code=enrolment._new_referral_code(),
                    marketing_consent=row.marketing_consent,
                    consent_at=consent_at,
                    tier_id=tier.pk,
                    tier_since=at,
                    tier_floor_id=floor.pk if floor else None,
                    tier_floor_until=self.tier_floor_until if floor else None,
                    growth_value=growth,
                )
            )
            row.member_id = pk
            self.member_ids[row.phone] = pk
            if floor is not None:
                change = (TierChange.Reason.MIGRATION, f"kept until {self.tier_floor_until.isoformat()}")
            else:
                change = (TierChange.Reason.ENROL, f"growth {growth}" if growth else "")
            row.tier_change = (tier.pk,) + change
            if row.referrer_phone:
                self.pending_referrers.append((pk, row.referrer_phone, row.number))
        self._unique_member_numbers(members)
        balances = {
            m["id"]: SimpleNamespace(
                points_balance=0,
                points_pending=0,
                points_flagged=False,
                sv_principal=Decimal("0.00"),
                sv_bonus=Decimal("0.00"),
            )
            for m in members
        }
        for row in rows:  # later rows of a member: its id is known once its first row is written
            if row.member_id is None:
                row.member_id = self.member_ids[row.phone]
        missing = sorted({r.member_id for r in rows} - set(balances))
        if missing:  # members of earlier rows or imports: their balances as written, locked
            self.drain()
        for m in (
            Member.objects.select_for_update(no_key=True)
            .filter(pk__in=missing)
            .order_by("pk")
            .only("pk", "points_balance", "points_pending", "points_flagged", "sv_principal", "sv_bonus")
        ):
            balances[m.pk] = m
        keys = [f"import:p:{r.key}" for r in rows if r.points] + [
            f"import:sv:{r.key}" for r in rows if r.sv_principal or r.sv_bonus
        ]
        used = {
            k
            for (k,) in _lookup(
                PointsEntry,
                "idempotency_key",
                [k for k in keys if k.startswith("import:p:")],
                ("idempotency_key",),
                using=self.reader,
            )
        }
        used |= {
            k
            for (k,) in _lookup(
                StoredValueEntry,
                "idempotency_key",
                [k for k in keys if k.startswith("import:sv:")],
                ("idempotency_key",),
                using=self.reader,
            )
        }
        lots, sv_entries = [], []
        touched = set()
        for row in rows:
            b = balances[row.member_id]
            if isinstance(b, Member) and (
                (row.points and f"import:p:{row.key}" not in used)
                or ((row.sv_principal or row.sv_bonus) and f"import:sv:{row.key}" not in used)
            ):
                touched.add(b.pk)
            key = f"import:p:{row.key}"
            if row.points and key not in used:
                pending = row.pending_until is not None and row.pending_until > at
                remaining = _add_to_balances(b, row.points, pending=pending)
                lots.append(
                    dict(
                        member_id=row.member_id,
                        amount=row.points,
                        kind=PointsEntry.Kind.ADJUST,
                        source=PointsEntry.Source.IMPORT,
                        source_ref=SOURCE,
                        reason=OPENING_REASON,
                        created_at=at,
                        balance_after=b.points_balance,
                        remaining=remaining,
                        pending=pending,
                        available_at=row.pending_until if pending else None,
                        expires_at=row.expires_at,
                        operator_id=self.user.pk if self.user else None,
                        store_id=row.store.pk,
                        idempotency_key=key,
                    )
                )
                w.points += row.points
            key = f"import:sv:{row.key}"
            if (row.sv_principal or row.sv_bonus) and key not in used:
                b.sv_principal += row.sv_principal
                b.sv_bonus += row.sv_bonus
                sv_entries.append(
                    dict(
                        member_id=row.member_id,
                        kind=StoredValueEntry.Kind.ADJUST,
                        principal=row.sv_principal,
                        bonus=row.sv_bonus,
                        principal_after=b.sv_principal,
                        bonus_after=b.sv_bonus,
                        source_ref=SOURCE,
                        store_id=row.store.pk,
                        operator_id=self.user.pk if self.user else None,
                        created_at=at,
                        idempotency_key=key,
                    )
                )
                w.sv_principal += row.sv_principal
                w.sv_bonus += row.sv_bonus
            w.rows += 1
        for m in members:
            b = balances[m["id"]]
            m.update(
                points_balance=b.points_balance,
                points_pending=b.points_pending,
                points_flagged=b.points_flagged,
                sv_principal=b.sv_principal,
                sv_bonus=b.sv_bonus,
            )
        writer.insert(Member, members)
        w.members += len(members)
        self._write_cards(writer, rows, members)
        operator_id = self.user.pk if self.user else None
        writer.insert(
            TierChange,
            [
                dict(
                    member_id=r.member_id,
                    from_tier_id=None,
                    to_tier_id=r.tier_change[0],
                    reason=r.tier_change[1],
                    note=r.tier_change[2],
                    operator_id=operator_id,
                    created_at=at,
                    idempotency_key=None,
                )
                for r in new_rows
            ],
        )
        writer.insert(
            GrowthEntry,
            [
                dict(member_id=r.member_id, amount=r.growth, purchase_id=None, created_at=at)
                for r in new_rows
                if r.growth
            ],
        )
        writer.insert(
            AuditLog,
            [
                dict(
                    action="member.enrol",
                    member_id=r.member_id,
                    operator_id=self.user.pk if self.user else None,
                    data={"channel": Channel.IMPORT, "store": r.store.code, "row": r.number},
                    created_at=at,
                )
                for r in new_rows
            ],
        )
        writer.insert(PointsEntry, lots)
        writer.insert(StoredValueEntry, sv_entries)
        changed = [balances[pk] for pk in sorted(touched)]  # members of earlier imports given a new lot
        if changed:
            writer.then(
                Member.objects.bulk_update,
                changed,
                ["points_balance", "points_pending", "points_flagged", "sv_principal", "sv_bonus"],
            )
        self._write_tags(writer, rows)
        return writer

    def _unique_member_numbers(self, members) -> None:
        """Generated member numbers and referral codes that collide with one in use, or with one this
        import drew for an earlier batch, are drawn again."""
        for column, draw in (("member_no", enrolment._new_member_no), ("referral_code", enrolment._new_referral_code)):
            drawn = self.drawn[column]
            while True:
                values = [m[column] for m in members]
                taken = {v for (v,) in _lookup(Member, column, values, (column,), using=self.reader)}
                seen, again = set(), False
                for m in members:
                    if m[column] in taken or m[column] in seen or m[column] in drawn:
                        if column == "member_no" and m["member_no"] in self.member_nos_in_file:
                            raise AssertionError("a member number checked free was taken meanwhile")
                        m[column] = draw()
                        again = True
                    seen.add(m[column])
                if not again:
                    drawn.update(values)
                    break

    def _write_cards(self, writer, rows, members) -> None:
        at, w = self.at, self.result.written
        wanted = {n: r.member_id for r in rows for n in r.cards}
        # cards in use or in stock are locked in the import's transaction; so are the cards of a
        # member of an earlier batch or import (perhaps bound by an earlier batch not yet written)
        lock = any(r.cards and not r.new for r in rows) or _lookup(Card, "number", wanted, ("id",), using=self.reader)
        if lock:
            self.drain()
        known = {
            number: Card(pk=pk, number=number, status=status, member_id=member_id)
            for pk, number, status, member_id in (
                _lookup(Card, "number", wanted, ("id", "number", "status", "member_id"), lock=True) if lock else ()
            )
        }
        bind_stock = [c for n, c in known.items() if c.member_id is None]
        new_cards = [
            dict(
                number=n,
                kind=Card.Kind.PHYSICAL,
                status=Card.Status.ACTIVE,
                member_id=pk,
                batch=SOURCE,
                replaces_id=None,
                bound_at=at,
                blocked_at=None,
                created_at=at,
            )
            for n, pk in wanted.items()
            if n not in known
        ]
        with_card = {r.member_id for r in rows if r.cards} | {c.member_id for c in known.values() if c.member_id}
        virtual = []
        drawn, earlier = set(), self.drawn["card"]
        for m in members:
            if m["id"] in with_card:
                continue
            number = cards.new_virtual_number()
            while number in drawn or number in earlier:
                number = cards.new_virtual_number()
            drawn.add(number)
            virtual.append(
                dict(
                    number=number,
                    kind=Card.Kind.VIRTUAL,
                    status=Card.Status.ACTIVE,
                    member_id=m["id"],
                    batch="",
                    replaces_id=None,
                    bound_at=at,
                    blocked_at=None,
                    created_at=at,
                )
            )
        taken = {n for (n,) in _lookup(Card, "number", drawn, ("number",), using=self.reader)}
        for card in virtual:
            while card["number"] in taken or card["number"] in wanted or card["number"] in earlier:
                card["number"] = cards.new_virtual_number()
            earlier.add(card["number"])
        for card in bind_stock:
            card.member_id, card.status, card.bound_at = wanted[card.number], Card.Status.ACTIVE, at
        if bind_stock:
            writer.then(Card.objects.bulk_update, bind_stock, ["member", "status", "bound_at"])
        writer.insert(Card, new_cards + virtual)
        w.cards += len(bind_stock) + len(new_cards)

    def _write_tags(self, writer, rows) -> None:
        names = {t for r in rows for t in r.tags} - set(self.tag_ids)
        if names:
            self.drain()
            Tag.objects.bulk_create([Tag(name=n) for n in names], ignore_conflicts=True)
            self.tag_ids.update(Tag.objects.filter(name__in=names).values_list("name", "pk"))
        through = Member.tags.through
        links = [through(member_id=r.member_id, tag_id=self.tag_ids[t]) for r in rows for t in r.tags]
        if links:
            writer.then(through.objects.bulk_create, links, ignore_conflicts=True)

    def _link_referrers(self) -> None:
        if not self.pending_referrers:
            return
        phones = {p for _pk, p, _n in self.pending_referrers}
        ids = dict(Member.objects.filter(phone__in=phones, status=Member.Status.ACTIVE).values_list("phone", "pk"))
        linked = [Member(pk=pk, referrer_id=ids[p]) for pk, p, _n in self.pending_referrers if p in ids]
        Member.objects.bulk_update(linked, ["referrer"], batch_size=2000)


@contextmanager
def _fewer_collections():
    """An import allocates millions of short-lived objects while its sets of phones, keys and numbers
    grow; at the default threshold (700 allocations) the cycle collector runs thousands of times and
    took about a sixth of the import's CPU. Raised while the import runs, restored after."""
    threshold = gc.get_threshold()
    gc.set_threshold(50_000, 20, 100)
    try:
        yield
    finally:
        gc.set_threshold(*threshold)


class _Writer:
    """Runs a batch's planned writes (`BulkWriter.flush`: the COPYs and updates) in a second thread on
    the import's own connection, hence in its transaction, while the main thread parses the next
    batch, so that the database's work on one batch overlaps Python's on the next. The deferred
    foreign-key checks of the batch's rows are run there too (instead of all at COMMIT, where nothing
    overlaps them). The two threads never use the import's connection at once: meanwhile the main
    thread checks and prepares the next batch reading committed rows through a second connection
    (`reader`; what this import wrote so far it knows itself), and waits for the write (`wait`)
    before it uses the import's connection: to lock rows, or to read a member or card of an earlier
    batch. Inside a caller's transaction, whose rows a second connection would not see, there is no
    second connection and the main thread waits before each check. PostgreSQL only; elsewhere
    `BulkWriter` writes at once and there is nothing to flush."""

    def __init__(self, *, side_reader: bool):
        self.connection = connections[DEFAULT_DB_ALIAS]
        self.threaded = self.connection.vendor == "postgresql"
        self.pending = None
        self.reader = connection
        self.side_reader = side_reader and self.threaded

    def __enter__(self):
        if self.threaded:
            self.connection.inc_thread_sharing()
            self.pool = ThreadPoolExecutor(1, thread_name_prefix="import-writer", initializer=self._share)
        if self.side_reader:
            self.reader = connections.create_connection(DEFAULT_DB_ALIAS)
        return self

    def _share(self) -> None:
        connections[DEFAULT_DB_ALIAS] = self.connection

    def _flush(self, bulk: "BulkWriter") -> None:
        bulk.flush()
        with self.connection.cursor() as cur:
            cur.execute("SET CONSTRAINTS ALL IMMEDIATE")  # checks the foreign keys the batch queued
            cur.execute("SET CONSTRAINTS ALL DEFERRED")  # Django's foreign keys are initially deferred

    def submit(self, bulk: "BulkWriter") -> None:
        self.wait()
        if self.threaded:
            self.pending = self.pool.submit(self._flush, bulk)
        else:
            bulk.flush()

    def wait(self) -> None:
        if self.pending is not None:
            pending, self.pending = self.pending, None
            pending.result()  # raises what the write raised

    def __exit__(self, *exc_info):
        if self.side_reader:
            self.reader.close()
        if self.threaded:
            self.pool.shutdown(wait=True)  # the transaction's end needs the connection back
            self.connection.dec_thread_sharing()
        if exc_info[0] is None:
            self.wait()


def _lookup(model, column: str, values, columns, *, lock: bool = False, using=None) -> list[tuple]:
    """Rows (as tuples of `columns`) of `model` whose `column` is one of `values`: one array
    parameter on PostgreSQL (thousands of IN placeholders cost more to build than to run).
    `using`: the connection to read through (the import's own by default)."""
    values = list(values)
    if not values:
        return []
    conn = connection if using is None else using
    if conn.vendor != "postgresql":
        queryset = model.objects.select_for_update() if lock else model.objects
        return list(queryset.filter(**{f"{column}__in": values}).values_list(*columns))
    q = conn.ops.quote_name
    with conn.cursor() as cur:
        cur.execute(
            f"SELECT {', '.join(q(c) for c in columns)} FROM {q(model._meta.db_table)}"
            f" WHERE {q(column)} = ANY(%s){' FOR UPDATE' if lock else ''}",
            [values],
        )
        return cur.fetchall()


class BulkWriter:
    """Insert rows given as dicts of column values: COPY on PostgreSQL, bulk_create elsewhere. Ids of
    new members are reserved up front so that the other rows can point at them. On PostgreSQL the
    statements are planned (the rows made into COPY tuples here) and run, in order, by `flush`;
    elsewhere they run at once."""

    def __init__(self):
        self.postgres = connection.vendor == "postgresql"
        self.planned: list = []

    def then(self, statement, *args, **kwargs) -> None:
        """A statement to run after the inserts planned so far (at once, off PostgreSQL)."""
        if self.postgres:
            self.planned.append((statement, args, kwargs))
        else:
            statement(*args, **kwargs)

    def flush(self) -> None:
        planned, self.planned = self.planned, []
        for statement, args, kwargs in planned:
            statement(*args, **kwargs)

    def reserve_ids(self, model, count: int, using=None) -> list[int]:
        if not count:
            return []
        table = model._meta.db_table
        with (connection if using is None else using).cursor() as cur:
            if self.postgres:
                cur.execute(
                    "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", [table, count]
                )
                return [r[0] for r in cur.fetchall()]
            cur.execute(f'SELECT COALESCE(MAX(id), 0) FROM "{table}"')  # SQLite: the write lock is ours
            start = cur.fetchone()[0] + 1
            return list(range(start, start + count))

    def insert(self, model, rows: list[dict]) -> None:
        if not rows:
            return
        if not self.postgres:
            model.objects.bulk_create([model(**row) for row in rows], batch_size=500)
            return
        columns = list(rows[0])
        names = ", ".join(
            connection.ops.quote_name(model._meta.get_field(c).column if not c.endswith("_id") else c) for c in columns
        )
        json_columns = {c for c in columns if c == "data"}
        full = _defaults(model)
        extra = [c for c in full if c not in columns]
        names_all = names + "".join(", " + connection.ops.quote_name(c) for c in extra)
        tail = tuple(full[c] for c in extra)
        table = connection.ops.quote_name(model._meta.db_table)
        if json_columns:
            tuples = [
                tuple(json.dumps(row[c], ensure_ascii=False) if c in json_columns else row[c] for c in columns) + tail
                for row in rows
            ]
        else:
            tuples = [tuple(map(row.__getitem__, columns)) + tail for row in rows]
        self.planned.append((copy_rows, (f"COPY {table} ({names_all}) FROM STDIN", tuples), {}))


def _defaults(model) -> dict:
    """Column defaults the database does not know (Django applies them): every NOT NULL column with a
    Python default."""
    out = {}
    for f in model._meta.concrete_fields:
        if f.primary_key:
            continue
        if f.has_default() and not f.null:
            out[f.column] = f.get_default()
        elif getattr(f, "blank", False) and not f.null and f.get_internal_type() in ("CharField", "TextField"):
            out[f.column] = ""
    return out


# ---------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------


class MemberFile:
    """A CSV (UTF-8, with or without BOM) or XLSX member file, read as many times as needed: `rows()`
    gives its rows as dicts keyed by column, `column(name)` one column's cells (a first pass for the
    phones, without making a dict of every row)."""

    def __init__(self, fileobj, name: str = "members.csv"):
        self.data = self.text = None
        if name.lower().endswith(".xlsx"):
            import tablib

            self.data = tablib.Dataset().load(fileobj.read(), format="xlsx")
            self.headers = [_text(h) for h in (self.data.headers or [])]
            self.total = len(self.data)
            return
        raw = fileobj.read()
        self.text = raw.decode("utf-8-sig") if isinstance(raw, bytes) else raw.lstrip("\ufeff")
        self.total = max(0, sum(1 for line in self.text.splitlines() if line.strip()) - 1)
        self.headers = [h.strip() for h in (self._reader().fieldnames or [])]

    def _reader(self) -> csv.DictReader:
        return csv.DictReader(io.StringIO(self.text))

    def rows(self):
        if self.data is not None:
            return (dict(zip(self.headers, r)) for r in self.data)
        reader = self._reader()
        if reader.fieldnames is not None:  # reading them reads the header line
            reader.fieldnames = self.headers  # the names stripped
        return reader

    def column(self, name: str):
        if name not in self.headers:
            return iter(())
        index = self.headers.index(name)
        if self.data is not None:
            return (r[index] if index < len(r) else None for r in self.data)
        reader = csv.reader(io.StringIO(self.text))
        next(reader, None)  # the header line
        return (r[index] if index < len(r) else None for r in reader if r)


def import_file(fileobj, name: str = "members.csv", **options) -> Result:
    """Read a member file and import it (see Importer); a file without the required columns imports
    nothing and says which are missing. The rows are read as they are imported, not held."""
    file = MemberFile(fileobj, name)
    importer = Importer(**options)
    missing = [c for c in REQUIRED if c not in file.headers]
    if missing:
        importer.result.base_errors.append(
            _("The file has no column %(columns)s. The first line must name the columns.")
            % {"columns": ", ".join(missing)}
        )
        importer.result.rolled_back = not importer.result.dry_run
        return importer.result
    importer.all_phones = frozenset(map(_phone_or_blank, file.column("phone")))  # referrers later in the file
    return importer.run(file.rows(), total=file.total)


def _phone_or_blank(value) -> str:
    try:
        return enrolment.normalise_phone(_text(value))
    except MembershipError:
        return ""


# ---------------------------------------------------------------------------------------
# Background jobs
# ---------------------------------------------------------------------------------------


def run_job(job_id: int) -> dict:
    """Run one MemberImportJob: progress on the job as rows are processed, then the reconciliation."""
    from ..models import MemberImportJob

    job = MemberImportJob.objects.get(pk=job_id)
    # claim the job: of two deliveries (a redelivered or re-queued message) only one starts it
    if not MemberImportJob.objects.filter(pk=job_id, status=MemberImportJob.Status.QUEUED).update(
        status=MemberImportJob.Status.RUNNING
    ):
        return job.result  # it ran (or runs) already
    side = _side_connection()

    def progress(done, total):
        _update_job(side, job_id, rows_done=done, rows_total=total)

    try:
        with job.file.open("rb") as f:
            result = import_file(
                f,
                job.file.name,
                acting_user=job.created_by,
                dry_run=job.dry_run,
                skip_bad_rows=job.skip_bad_rows,
                tier_floor_until=job.tier_floor_until,
                progress=progress,
            )
    except Exception as exc:
        MemberImportJob.objects.filter(pk=job_id).update(
            status=MemberImportJob.Status.FAILED,
            finished_at=now(),
            result={"base_errors": [str(exc)], "table": [], "errors": [], "error_count": 0},
        )
        raise
    finally:
        if side is not connection:
            side.close()
    state = result.as_dict()
    MemberImportJob.objects.filter(pk=job_id).update(
        status=MemberImportJob.Status.DONE,
        finished_at=now(),
        result=state,
        rows_done=result.in_file.rows,
        rows_total=result.in_file.rows,
    )
    return state


def _side_connection():
    """A second connection to the database for progress (PostgreSQL), committed at once; SQLite has one
    writer, so there the progress is written in the import's own connection."""
    if connection.vendor != "postgresql":
        return connection
    from django.db import connections

    return connections.create_connection(connection.alias)


def _update_job(conn, job_id: int, *, rows_done: int, rows_total: int | None) -> None:
    from ..models import MemberImportJob

    table = conn.ops.quote_name(MemberImportJob._meta.db_table)
    with conn.cursor() as cur:
        cur.execute(
            f"UPDATE {table} SET rows_done = %s, rows_total = %s WHERE id = %s", [rows_done, rows_total, job_id]
        )


# ---------------------------------------------------------------------------------------
# Export in the same columns
# ---------------------------------------------------------------------------------------


def export_rows(queryset=None):
    """Rows of the import's columns for members with their balances: the member's first row holds the
    member, its cards, its growth, tier and stored value and its first open lot; each further open lot
    is one more row of the same phone and member number. Importing them into an empty database
    reproduces every balance (with the tier floor date chosen at import)."""
    queryset = queryset if queryset is not None else Member.objects.filter(status=Member.Status.ACTIVE)
    queryset = queryset.select_related("home_store", "tier", "referrer").prefetch_related("tags").order_by("pk")
    chunk = []
    for member in queryset.iterator(chunk_size=2000):
        chunk.append(member)
        if len(chunk) >= 2000:
            yield from _export_chunk(chunk)
            chunk = []
    if chunk:
        yield from _export_chunk(chunk)


def _export_chunk(members):
    """Rows of a chunk of members: their open lots and physical cards in one query each."""
    ids = [m.pk for m in members]
    lots: dict[int, list] = {}
    for lot in (
        PointsEntry.objects.filter(member_id__in=ids, remaining__gt=0)
        .order_by("member_id", "expires_at", "id")
        .values("member_id", "remaining", "pending", "available_at", "expires_at")
    ):
        lots.setdefault(lot["member_id"], []).append(lot)
    physical: dict[int, list] = {}
    for member_id, number in (
        Card.objects.filter(member_id__in=ids, status=Card.Status.ACTIVE, kind=Card.Kind.PHYSICAL)
        .order_by("pk")
        .values_list("member_id", "number")
    ):
        physical.setdefault(member_id, []).append(number)
    for member in members:
        yield from _export_member(member, lots.get(member.pk, []), physical.get(member.pk, []))


def _export_member(member, lots, numbers):
    """The rows of one member: the first holds the member and its first open lot, one more per lot."""
    birthday = ""
    if member.birth_month:
        birthday = (
            f"{member.birth_year:04d}-{member.birth_month:02d}-{member.birth_day:02d}"
            if member.birth_year
            else f"--{member.birth_month:02d}-{member.birth_day:02d}"
        )
    base = {"member_no": member.member_no, "phone": member.phone}
    first = dict(
        base,
        name=member.name,
        gender=member.gender,
        birthday=birthday,
        home_store=member.home_store.code,
        marketing_consent="1" if member.marketing_consent else "0",
        consent_at=_fmt(member.consent_at),
        joined_at=_fmt(member.joined_at),
        card_no=";".join(numbers),
        growth_value=str(member.growth_value),
        tier=member.tier.code,
        sv_principal=f"{member.sv_principal:.2f}" if member.sv_principal else "",
        sv_bonus=f"{member.sv_bonus:.2f}" if member.sv_bonus else "",
        referrer_phone=member.referrer.phone if member.referrer else "",
        tags=";".join(sorted(t.name for t in member.tags.all())),
    )
    rows = [first] if not lots else []
    for i, lot in enumerate(lots):
        row = dict(first) if i == 0 else dict(base, home_store=member.home_store.code)
        row.update(
            points=str(lot["remaining"]),
            points_expire_on=local(lot["expires_at"]).date().isoformat() if lot["expires_at"] else "",
            points_pending_until=_fmt(lot["available_at"]) if lot["pending"] else "",
        )
        rows.append(row)
    for row in rows:
        yield [row.get(c, "") for c in COLUMNS]


def _fmt(at: datetime | None) -> str:
    return local(at).strftime("%Y-%m-%d %H:%M:%S") if at else ""


def requeue_stale_jobs(*, older_than_seconds: int = 60) -> int:
    """Queue again the jobs whose start message never reached the broker (it was down when HQ started
    them): they are still "queued" after a minute. A job that does start is claimed once (run_job)."""
    from datetime import timedelta

    from ..models import MemberImportJob
    from ..tasks import enqueue_import

    stale = MemberImportJob.objects.filter(
        status=MemberImportJob.Status.QUEUED, created_at__lt=now() - timedelta(seconds=older_than_seconds)
    )
    return sum(enqueue_import(pk) for pk in stale.values_list("pk", flat=True)[:20])
