"""Cards: Luhn numbers, virtual issue, physical stock, binding, loss and replacement."""

import secrets

from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _

from core.clock import now
from core.errors import CardTaken, Invalid, NotFound

from ..identity import is_valid_number, luhn_check_digit
from ..models import Card, Member
from .common import audit, lock_member

VIRTUAL_PREFIX = "8860"
VIRTUAL_LENGTH = 16
MSG_CARD_FORMAT = _("A card number is 12 to 19 digits with a valid check digit.")
MSG_CARD_NOT_IN_STOCK = _("This card is not in the card stock: import its batch first.")


def normalise_number(number) -> str:
    number = "".join(str(number or "").split())
    if not is_valid_number(number):
        raise Invalid(MSG_CARD_FORMAT, field="card_no")
    return number


def new_virtual_number() -> str:
    digits = VIRTUAL_LENGTH - 5
    payload = VIRTUAL_PREFIX + str(secrets.randbelow(10**digits)).zfill(digits)
    return payload + luhn_check_digit(payload)


def issue_virtual(member: Member) -> Card:
    """A new virtual card for a member (inside the caller's transaction)."""
    for _attempt in range(5):
        try:
            with transaction.atomic():
                return Card.objects.create(
                    number=new_virtual_number(),
                    kind=Card.Kind.VIRTUAL,
                    status=Card.Status.ACTIVE,
                    member=member,
                    bound_at=now(),
                )
        except IntegrityError:
            continue
    raise RuntimeError("could not draw a free virtual card number")


def bind_physical(member: Member, number: str) -> Card:
    """Bind a scanned card from stock to a member (inside the caller's transaction)."""
    number = normalise_number(number)
    card = Card.objects.select_for_update().filter(number=number).first()
    if card is None:
        raise Invalid(MSG_CARD_NOT_IN_STOCK, field="card_no")
    if card.status != Card.Status.STOCK or card.member_id:
        raise CardTaken(field="card_no")
    card.member, card.status, card.bound_at = member, Card.Status.ACTIVE, now()
    card.save(update_fields=["member", "status", "bound_at"])
    return card


def bind(*, member, number: str, acting_user=None) -> Card:
    with transaction.atomic():
        member = lock_member(member)
        card = bind_physical(member, number)
        audit("card.bind", member=member, operator=acting_user, card=card.number)
        return card


def add_stock(numbers, *, batch: str) -> int:
    """Add physical card numbers to stock; every number must be valid and new, or none is added."""
    cleaned = [normalise_number(n) for n in numbers]
    if len(set(cleaned)) != len(cleaned):
        raise Invalid(_("The batch repeats a card number."), field="card_no")
    taken = set(Card.objects.filter(number__in=cleaned).values_list("number", flat=True))
    if taken:
        raise CardTaken(_("These cards exist already: %s") % ", ".join(sorted(taken)[:5]), field="card_no")
    with transaction.atomic():
        Card.objects.bulk_create(
            [Card(number=n, kind=Card.Kind.PHYSICAL, status=Card.Status.STOCK, batch=batch) for n in cleaned]
        )
    return len(cleaned)


def replace(*, card: Card, new_number: str | None = None, acting_user=None) -> Card:
    """Lost card: block it and issue a replacement (virtual, or a scanned one from stock).
    Balances stay with the member, who owns both cards."""
    if card.member_id is None:
        raise NotFound(_("This card is not bound to a member."), field="card_no")
    with transaction.atomic():
        member = lock_member(card.member_id)
        card = Card.objects.select_for_update().get(pk=card.pk)
        if card.status != Card.Status.ACTIVE:
            raise Invalid(_("Only an active card can be replaced."), field="card_no")
        card.status, card.blocked_at = Card.Status.BLOCKED, now()
        card.save(update_fields=["status", "blocked_at"])
        new = bind_physical(member, new_number) if new_number else issue_virtual(member)
        new.replaces = card
        new.save(update_fields=["replaces"])
        audit("card.replace", member=member, operator=acting_user, old=card.number, new=new.number)
        return new


def member_card(member: Member, number) -> Card:
    """One of the member's own cards by its number (any status), or NotFound naming card_no."""
    number = "".join(str(number or "").split())
    card = Card.objects.filter(number=number, member=member).first()
    if card is None:
        raise NotFound(_("The member has no card with this number."), field="card_no")
    return card


def report_lost(*, member: Member, card_no, replacement_card_no: str | None = None, acting_user=None) -> Card:
    """The desk's "lost card": the member's card is blocked and replaced (by `replace`), with a
    scanned physical card from stock when one is given, else a new virtual card."""
    return replace(card=member_card(member, card_no), new_number=replacement_card_no or None, acting_user=acting_user)


def primary_card(member: Member) -> Card | None:
    return member.cards.primary_first().first()
