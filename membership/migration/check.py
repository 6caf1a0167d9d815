"""Rules of parsed rows against the database and the rest of the file (phone taken, member number
taken, card taken or blocked, unknown referrer, a member's balances past what the tables take), and
the error report: every error with its row number and column."""

from dataclasses import dataclass, field
from types import SimpleNamespace

from django.utils.translation import gettext as _

from ..models import Card, Channel, Gender, Member
from .bulk import lookup
from .columns import COLUMNS, MAX_MONEY, MAX_WHOLE, MSG_MONEY_SUM, MSG_PHONE_TAKEN, MSG_POINTS_SUM
from .parse import Row


@dataclass
class FileSoFar:
    """What the import knows of the file's valid rows so far and of the members it created: a batch
    not yet written is not in the database."""

    phones: dict[str, str] = field(default_factory=dict)  # phone → member_no given on its first row ("" if none)
    member_nos: dict[str, str] = field(default_factory=dict)  # member_no → phone
    cards: dict[str, str] = field(default_factory=dict)  # card number → phone
    member_ids: dict[str, int] = field(default_factory=dict)  # phone → id, members of this file
    all_phones: frozenset = frozenset()  # every phone of the file: referrers may come later in it
    repeated: frozenset | None = None  # the phones on several rows of the file (None: not known, any phone)
    totals: dict[str, tuple] = field(default_factory=dict)  # such a phone → (points, sv_principal, sv_bonus) so far


def check_rows(rows: list[Row], seen: FileSoFar, reader) -> tuple[list[Row], dict[int, dict]]:
    """The rows' rules against the database (read through `reader`) and the file so far. Returns
    (valid rows, errors by row number); a valid row is marked `.new` (creates its member) or
    `.member_id` (a member of an earlier row or an earlier import), and remembered in `seen`."""
    errors: dict[int, dict] = {}
    found = _read(rows, reader)
    valid = []
    for row in rows:
        row.new, row.member_id = False, None

        def bad(column, message, row=row):
            errors.setdefault(row.number, {}).setdefault(column, []).append(str(message))

        if row.gender not in Gender.values:
            bad("gender", _("Gender is F, M or U."))
        first_no = seen.phones.get(row.phone)
        member = found.members.get(row.phone)
        _check_phone(row, first_no, member, found, seen, bad)
        member_id = seen.member_ids.get(row.phone) or (member.pk if member is not None else None)
        _check_cards(row, member_id, found, seen, bad)
        _check_referrer(row, found, seen, bad)
        _check_totals(row, seen, bad)
        if row.number in errors:
            continue
        _remember(row, first_no is None, member is None, seen)
        row.member_id = member_id
        valid.append(row)
    return valid, errors


def _read(rows: list[Row], reader) -> SimpleNamespace:
    """What the database holds of the rows' phones (and referrers' phones), member numbers and cards."""
    phones = {r.phone for r in rows} | {r.referrer_phone for r in rows if r.referrer_phone}
    members = {
        phone: SimpleNamespace(pk=pk, phone=phone, member_no=no, channel=channel)
        for pk, phone, no, channel, status in lookup(
            Member, "phone", phones, ("id", "phone", "member_no", "channel", "status"), using=reader
        )
        if status == Member.Status.ACTIVE
    }
    numbers = {r.member_no for r in rows if r.member_no}
    nos_taken = dict(lookup(Member, "member_no", numbers, ("member_no", "phone"), using=reader))
    all_cards = {n for r in rows for n in r.cards}
    known_cards = {
        number: SimpleNamespace(pk=pk, number=number, status=status, member_id=member_id)
        for pk, number, status, member_id in lookup(
            Card, "number", all_cards, ("id", "number", "status", "member_id"), using=reader
        )
    }
    return SimpleNamespace(members=members, nos_taken=nos_taken, cards=known_cards)


def _check_phone(row: Row, first_no, member, found, seen: FileSoFar, bad) -> None:
    """A member is one phone: a later row of a phone repeats its first row's member number; a phone of
    an earlier import is that member again; any other member's phone is taken."""
    if first_no is not None:  # a later row of a phone seen in this file
        if not (first_no and row.member_no == first_no):
            bad("phone", MSG_PHONE_TAKEN)
    elif member is not None:
        if member.channel != Channel.IMPORT or (row.member_no and row.member_no != member.member_no):
            bad("phone", MSG_PHONE_TAKEN)
    elif row.member_no and (row.member_no in found.nos_taken or row.member_no in seen.member_nos):
        bad("member_no", _("The member number %(no)s belongs to another member.") % {"no": row.member_no})


def _check_cards(row: Row, member_id, found, seen: FileSoFar, bad) -> None:
    for number in row.cards:
        holder = seen.cards.get(number)
        card = found.cards.get(number)
        if holder is not None and holder != row.phone:
            bad("card_no", _("Card %(card)s is given to another member in this file.") % {"card": number})
        elif card is not None and card.member_id and card.member_id != member_id:
            bad("card_no", _("Card %(card)s belongs to another member.") % {"card": number})
        elif card is not None and not card.member_id and card.status != Card.Status.STOCK:
            bad("card_no", _("Card %(card)s is blocked.") % {"card": number})


def _check_referrer(row: Row, found, seen: FileSoFar, bad) -> None:
    if (
        row.referrer_phone
        and row.referrer_phone not in found.members
        and row.referrer_phone not in seen.phones
        and row.referrer_phone not in seen.all_phones
    ):
        bad(
            "referrer_phone",
            _("No member has the mobile number %(phone)s.") % {"phone": row.referrer_phone},
        )
    if row.referrer_phone == row.phone:
        bad("referrer_phone", _("A member cannot refer themselves."))


def _check_totals(row: Row, seen: FileSoFar, bad) -> None:
    """A member's rows in the file add up within what the balances' columns take (each cell is within
    them already): the row that would pass it is refused."""
    points, principal, bonus = seen.totals.get(row.phone, (0, 0, 0))
    if points + row.points > MAX_WHOLE:
        bad("points", MSG_POINTS_SUM % {"max": MAX_WHOLE})
    for column, total, amount in (("sv_principal", principal, row.sv_principal), ("sv_bonus", bonus, row.sv_bonus)):
        if total + amount > MAX_MONEY:
            bad(column, MSG_MONEY_SUM % {"max": MAX_MONEY})


def _remember(row: Row, first_of_phone: bool, no_member: bool, seen: FileSoFar) -> None:
    """A valid row, remembered for the rest of the file; the first of its phone without a member
    creates one."""
    if first_of_phone:
        seen.phones[row.phone] = row.member_no
        if row.member_no:
            seen.member_nos[row.member_no] = row.phone
        row.new = no_member
    for number in row.cards:
        seen.cards[number] = row.phone
    if seen.repeated is None or row.phone in seen.repeated:  # a phone on one row adds up to its own cells
        points, principal, bonus = seen.totals.get(row.phone, (0, 0, 0))
        seen.totals[row.phone] = (points + row.points, principal + row.sv_principal, bonus + row.sv_bonus)


def error_lines(number: int, errors: dict) -> list[tuple[int, str, str]]:
    """A row's errors (column → [message]) as report lines (row number, column, message), in the
    file's column order."""
    return [
        (number, column, str(message))
        for column in sorted(errors, key=lambda c: COLUMNS.index(c) if c in COLUMNS else len(COLUMNS))
        for message in errors[column]
    ]
