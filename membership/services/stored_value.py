"""Stored value (储值): top-ups with plan bonuses, payment, refunds (product.md, "Stored value").

Principal and bonus are kept apart; the balance never goes below zero (a database constraint too),
but for a till's offline sale where the program allows it (`pay(allow_negative=True)`), which flags the
member (`sv_flagged`) until the balance is back at zero or above."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.contrib.auth.hashers import check_password, make_password
from django.core import signing
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from core import lockout
from core import money as money_text
from core.clock import local, now
from core.errors import Forbidden, InsufficientStoredValue, Invalid, NotFound, PinLocked
from core.money import in_cents, money
from core.outbox import send_after_commit

from .. import config
from ..models import Member, PointsEntry, ProgramSettings, StoredValueEntry, StoredValuePayOrder, TopUpPlan
from ..permissions import may_refund_top_up
from ..signals import stored_value_refunded, stored_value_topped_up
from . import points
from .common import audit, lock_member

Kind = StoredValueEntry.Kind

MSG_AMOUNT = _("Enter an amount above zero with at most two decimals.")
MSG_PLAN_AMOUNT = _("Plan %(plan)s is a top-up of ¥%(amount)s.")
MSG_PIN = _("The stored-value PIN is wrong.")
MSG_PIN_FORMAT = _("The PIN is 6 digits.")
MSG_PIN_LOCKED = _("Too many wrong PINs: this member's stored value is locked for %(minutes)s minutes.")
PIN_MAX_FAILURES = 5  # wrong PINs at sales within ...
PIN_WINDOW_MINUTES = 15  # ... this many minutes lock the member's stored value ...
PIN_LOCK_MINUTES = 15  # ... this long, even for the right PIN (pos-api.md, "The store desk"), at that store
PIN_MAX_FAILURES_ANYWHERE = 15  # wrong PINs at any stores within the window lock it everywhere


@dataclass(frozen=True)
class TopUpResult:
    entry: StoredValueEntry
    principal_added: Decimal
    bonus_added: Decimal
    principal: Decimal
    bonus: Decimal
    points_added: int = 0


def _amount(value, field="amount") -> Decimal:
    if (amount := in_cents(value)) is None or amount <= 0:
        raise Invalid(MSG_AMOUNT, field=field)
    return amount


def _entry(
    member: Member, *, kind: str, principal: Decimal, bonus: Decimal, at: datetime, allow_negative=False, **fields
):
    member.sv_principal += principal
    member.sv_bonus += bonus
    below = member.sv_principal < 0 or member.sv_bonus < 0
    if below and not allow_negative and (principal < 0 or bonus < 0):  # money in is always taken
        raise InsufficientStoredValue(field="pay_stored_value")
    member.sv_flagged = below
    member.save(update_fields=["sv_principal", "sv_bonus", "sv_flagged"])
    return StoredValueEntry.objects.create(
        member=member,
        kind=kind,
        principal=principal,
        bonus=bonus,
        principal_after=member.sv_principal,
        bonus_after=member.sv_bonus,
        created_at=at,
        flagged=below,
        **fields,
    )


def _replayed(key):
    return StoredValueEntry.objects.filter(idempotency_key=key).first() if key else None


def plan_for(amount: Decimal, code: str | None) -> TopUpPlan | None:
    """The plan named, which must match the amount; or the active plan of exactly this amount."""
    if code:
        plan = TopUpPlan.objects.filter(code=code, is_active=True).first()
        if plan is None:
            raise Invalid(_("No active top-up plan %s.") % code, field="plan")
        if plan.pay_amount != amount:
            raise Invalid(MSG_PLAN_AMOUNT % {"plan": plan.code, "amount": plan.pay_amount}, field="amount")
        return plan
    return TopUpPlan.objects.filter(pay_amount=amount, is_active=True).first()


def top_up(
    *,
    member,
    amount,
    plan_code: str | None = None,
    store=None,
    acting_user=None,
    idempotency_key: str | None = None,
    at: datetime | None = None,
) -> TopUpResult:
    """Top up stored value, with the plan's bonus money and bonus points (demo: TOPUP300 +¥40 and 100
    points), in one transaction; the largest single top-up is a program setting."""
    amount = _amount(amount)
    program = config.program()
    if amount > program.max_topup_amount:
        raise Invalid(_("A single top-up is at most ¥%s.") % program.max_topup_amount, field="amount")
    plan = plan_for(amount, plan_code)
    bonus = plan.bonus_amount if plan else Decimal("0.00")
    with transaction.atomic():
        member = lock_member(member)
        if entry := _replayed(idempotency_key):
            return TopUpResult(
                entry, entry.principal, entry.bonus, member.sv_principal, member.sv_bonus, _bonus_points(entry)
            )
        at = at or now()
        entry = _entry(
            member,
            kind=Kind.TOPUP,
            principal=amount,
            bonus=bonus,
            at=at,
            plan=plan,
            store=store,
            operator=acting_user,
            idempotency_key=idempotency_key,
        )
        points_added = plan.bonus_points if plan else 0
        if points_added:
            points.credit_locked(
                member,
                amount=points_added,
                kind=PointsEntry.Kind.BONUS,
                source=PointsEntry.Source.TOPUP,
                at=at,
                program=program,
                store=store,
                operator=acting_user,
                source_ref=plan.code,
                idempotency_key=f"topup:{entry.pk}:points",
            )
            member.save(update_fields=["points_balance", "points_pending", "points_flagged"])
        _announce(
            stored_value_topped_up,
            entry,
            member,
            amount,
            bonus,
            points_added,
            topup_id=topup_ref(entry.pk),
            plan=plan.code if plan else None,
        )
        return TopUpResult(entry, amount, bonus, member.sv_principal, member.sv_bonus, points_added)


def _announce(signal, entry: StoredValueEntry, member: Member, amount, bonus, points_: int, **fields) -> None:
    """stored_value.topped_up / .refunded: the money (principal) and bonus moved, as positive amounts;
    `points`: the plan's bonus points given (or taken back); `topup_id`: the API's name of the top-up."""
    store = entry.store or getattr(entry.topup, "store", None)
    send_after_commit(
        signal,
        member_id=member.pk,
        entry_id=entry.pk,
        data={
            "member_no": member.member_no,
            "store": getattr(store, "code", None),
            "amount": money_text.text(amount),
            "bonus": money_text.text(bonus),
            "points": points_,
            **fields,
            "principal_balance": money_text.text(member.sv_principal),
            "bonus_balance": money_text.text(member.sv_bonus),
            "occurred_at": local(entry.created_at).isoformat(),
        },
    )


def _bonus_points(topup: StoredValueEntry) -> int:
    """The points a top-up gave (0 without a plan that gives points)."""
    given = PointsEntry.objects.filter(idempotency_key=f"topup:{topup.pk}:points").values_list("amount", flat=True)
    return next(iter(given), 0)


def split_payment(member: Member, amount: Decimal, program: ProgramSettings) -> tuple[Decimal, Decimal]:
    """How much of `amount` comes from principal and how much from bonus."""
    total = member.sv_principal + member.sv_bonus
    if amount > total:
        raise InsufficientStoredValue(field="pay_stored_value", available=str(total))
    if program.stored_value_pay_order == StoredValuePayOrder.PROPORTIONAL and total > 0:
        bonus = money(amount * member.sv_bonus / total)
        principal = amount - bonus
        if principal > member.sv_principal:  # rounding left a fen over: take it from bonus
            principal, bonus = member.sv_principal, amount - member.sv_principal
        return principal, bonus
    principal = min(amount, member.sv_principal)
    return principal, amount - principal


@dataclass(frozen=True)
class CheckedPin:
    """A PIN that check_pin accepted for this member and this PIN hash: a later check in the same sale
    takes it without hashing again (a PIN hash is deliberately slow)."""

    member_id: int
    pin_hash: str


class WrongPin(Forbidden):
    """A wrong PIN: a 403 naming `pin`. Raised before anything is counted, inside the sale; the
    caller counts it afterwards with count_wrong_pin, so that the count stays."""

    def __init__(self, member: Member, store=None):
        super().__init__(MSG_PIN, field="pin")
        self.member, self.store = member, store


def _pin_limits(member_id, store) -> list[lockout.Limit]:
    """Wrong PINs lock the member's stored value at the store where they were typed (R15: one store's
    till cannot keep it locked everywhere), and everywhere once three stores' worth come in."""
    at_store = lockout.key("pin", f"{member_id}@{getattr(store, 'pk', '-')}")
    return [
        lockout.Limit(at_store, PIN_MAX_FAILURES, PIN_WINDOW_MINUTES, PIN_LOCK_MINUTES),
        lockout.Limit(lockout.key("pin", member_id), PIN_MAX_FAILURES_ANYWHERE, PIN_WINDOW_MINUTES, PIN_LOCK_MINUTES),
    ]


def check_pin(member: Member, pin, *, store=None) -> CheckedPin | None:
    """The PIN of a sale paid with stored value at `store`, checked once, under the member's lock
    (the member as locked carries its PIN hash: no other read). No PIN set: nothing to check. While
    the stored value is locked there (or everywhere): PinLocked (429 pin_locked), even with the right
    PIN. A wrong PIN: WrongPin, not counted here (the sale rolls back): the sale counts it with
    count_wrong_pin once outside its transaction. The right PIN clears earlier failures. A CheckedPin
    from this check passes without hashing."""
    if not member.sv_pin:
        return None
    if isinstance(pin, CheckedPin) and pin.member_id == member.pk and pin.pin_hash == member.sv_pin:
        return pin
    at = now()
    keys = [limit.key for limit in _pin_limits(member.pk, store)]
    if row := lockout.locked_row(keys, at):  # locked now
        raise PinLocked(
            MSG_PIN_LOCKED % {"minutes": lockout.minutes_left(row, at)},
            field="pin",
            retry_after=lockout.seconds_left(row, at),
        )
    if not (isinstance(pin, str) and pin and check_password(pin, member.sv_pin)):
        raise WrongPin(member, store)
    lockout.clear(*keys)
    return CheckedPin(member.pk, member.sv_pin)


def count_wrong_pin(member: Member, store=None) -> None:
    """Count a wrong PIN typed at `store` (call it outside the sale's rolled-back transaction): the
    5th within 15 minutes locks the stored value at that store for 15 minutes, the 15th anywhere
    locks it everywhere."""
    at = now()
    locked = [
        lockout.record_failure(limit.key, at, max_failures=limit.max_failures, window=limit.window, lock=limit.lock)
        for limit in _pin_limits(member.pk, store)
    ]
    if any(locked):
        audit("sv.pin_locked", member=member, store=getattr(store, "code", None), everywhere=locked[1])


def pay(
    member: Member,
    *,
    amount: Decimal,
    at: datetime,
    program: ProgramSettings,
    pin: str | None = None,
    allow_negative: bool = False,
    **fields,
) -> StoredValueEntry:
    """Pay from a locked member's stored value (called by the purchase service). `allow_negative`: a
    till's offline sale where the program allows it: what the balance lacks is taken from principal,
    which goes below zero (flagged)."""
    check_pin(member, pin, store=fields.get("store"))
    total = member.sv_principal + member.sv_bonus
    if allow_negative and amount > total:
        available = max(total, Decimal("0.00"))
        principal, bonus = split_payment(member, available, program) if available else (Decimal(0), Decimal(0))
        principal += amount - available
    else:
        principal, bonus = split_payment(member, amount, program)
    return _entry(
        member, kind=Kind.PAY, principal=-principal, bonus=-bonus, at=at, allow_negative=allow_negative, **fields
    )


def refund_to_member(member: Member, *, principal: Decimal, bonus: Decimal, at: datetime, **fields):
    """Give back stored value paid on a returned sale, to the parts it was paid from."""
    if principal <= 0 and bonus <= 0:
        return None
    return _entry(member, kind=Kind.REFUND, principal=principal, bonus=bonus, at=at, **fields)


MSG_TOPUP_SPENT = _("Part of this top-up is spent: only an unspent top-up can be refunded.")


@dataclass(frozen=True)
class TopUpRefund:
    """What refunding a top-up does: the principal handed back, the bonus and the plan's points taken back."""

    principal: Decimal
    bonus: Decimal
    points: int


def _refund_figures(member: Member, topup: StoredValueEntry) -> TopUpRefund:
    """The refund of an unspent top-up (pos-api.md: "refund an unspent top-up … 409 when spent"): its
    whole principal and bonus, while the member's balances still hold both (they are one pool: a balance
    below either part means some of it was spent); else InsufficientStoredValue (409)."""
    if topup.kind != Kind.TOPUP:
        raise Invalid(_("Only a top-up can be refunded this way."), field="topup")
    if topup.refunds.exists():
        raise Invalid(_("This top-up was refunded already."), field="topup")
    if member.sv_principal < topup.principal or member.sv_bonus < topup.bonus:
        raise InsufficientStoredValue(
            MSG_TOPUP_SPENT, field="topup", available=str(member.sv_principal + member.sv_bonus)
        )
    return TopUpRefund(principal=topup.principal, bonus=topup.bonus, points=_bonus_points(topup))


def preview_top_up_refund(*, topup: StoredValueEntry, acting_user=None) -> TopUpRefund:
    """What `refund_top_up` would do now, without doing it (the desk's confirmation step): the same
    checks, the same figures."""
    if acting_user is not None and not may_refund_top_up(acting_user, topup):
        raise NotFound(field="topup")
    return _refund_figures(Member.objects.get(pk=topup.member_id), topup)


def refund_top_up(*, topup: StoredValueEntry, acting_user=None, store=None) -> StoredValueEntry:
    """Refund an unspent top-up: its principal goes back to the member and its bonus and plan points
    are taken back (`_refund_figures`). Once per top-up (a unique constraint)."""
    if topup.kind != Kind.TOPUP:
        raise Invalid(_("Only a top-up can be refunded this way."), field="topup")
    if acting_user is not None and not may_refund_top_up(acting_user, topup):
        raise NotFound(field="topup")  # another store's top-up: as if there were none
    with transaction.atomic():
        member = lock_member(topup.member_id)
        figures = _refund_figures(member, topup)
        principal, bonus = figures.principal, figures.bonus
        at = now()
        entry = _entry(
            member,
            kind=Kind.TOPUP_REFUND,
            principal=-principal,
            bonus=-bonus,
            at=at,
            topup=topup,
            store=store,
            operator=acting_user,
            idempotency_key=f"topup-refund:{topup.pk}",
        )
        if given := figures.points:
            # the plan's points go back with the top-up; already spent, the balance goes below zero and is
            # flagged for the manager, as a return's reversal does
            points.debit_locked(
                member,
                amount=given,
                kind=PointsEntry.Kind.REVERSE,
                source=PointsEntry.Source.TOPUP,
                at=at,
                allow_negative=True,
                store=store,
                operator=acting_user,
                source_ref=f"refund {topup.pk}",
                idempotency_key=f"topup-refund:{topup.pk}:points",
            )
            member.save(update_fields=["points_balance", "points_pending", "points_flagged"])
        audit(
            "sv.topup_refund",
            member=member,
            operator=acting_user,
            topup=topup.pk,
            principal=str(principal),
            bonus=str(bonus),
        )
        _announce(stored_value_refunded, entry, member, principal, bonus, given, topup_id=topup_ref(topup.pk))
        return entry


def clean_pin(pin) -> str:
    """A stored-value PIN is 6 digits."""
    if not (pin and isinstance(pin, str) and pin.isdigit() and len(pin) == 6):
        raise Invalid(MSG_PIN_FORMAT, field="pin")
    return pin


def set_pin(*, member, pin: str, acting_user=None) -> None:
    pin = clean_pin(pin)
    with transaction.atomic():
        member = lock_member(member)
        member.sv_pin = make_password(pin)
        member.save(update_fields=["sv_pin"])
        lockout.clear(lockout.key("pin", member.pk), prefix=lockout.key("pin", f"{member.pk}@"))  # a new PIN unlocks
        audit("sv.set_pin", member=member, operator=acting_user)


def _topup_refs() -> signing.Signer:
    # made per call: it reads SECRET_KEY and SECRET_KEY_FALLBACKS as they are now
    return signing.Signer(salt="membership.stored_value.topup")


def topup_ref(pk: int) -> str:
    """How a top-up is named outside (the API's topup_id, the desk's refund button): its id signed,
    so that nobody reaches another top-up by counting (issue 28, R4)."""
    return _topup_refs().sign(str(pk))


def topup_entry(ref: str) -> StoredValueEntry:
    """The top-up a ref (topup_ref) names; NotFound for anything else."""
    try:
        pk = int(_topup_refs().unsign(str(ref)))
        return StoredValueEntry.objects.get(pk=pk, kind=Kind.TOPUP)
    except (signing.BadSignature, ValueError, StoredValueEntry.DoesNotExist) as exc:
        raise NotFound(field="topup") from exc
