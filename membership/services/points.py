"""Points: earning, spending, reversing, adjusting, expiring, releasing (product.md, "Points").

Lots and FIFO are described on PointsEntry. Every function that writes expects the member row to
be locked by its caller's transaction, or takes the lock itself (the public ones do)."""

import calendar
from datetime import date, datetime, time, timedelta

from django.db import connection, transaction
from django.db.models import Exists, F, Max, Min, OuterRef, Subquery, Sum
from django.db.models.functions import Abs
from django.utils.translation import gettext_lazy as _

from core import rows
from core.clock import day_start, local, now, tz
from core.errors import Forbidden, InsufficientPoints, Invalid
from core.outbox import send_after_commit, send_all_after_commit

from .. import config
from ..models import ExpiryNotice, ExpiryPolicy, Member, PointsEntry, ProgramSettings, User
from ..permissions import can_adjust_points
from ..signals import points_adjusted, points_expired, points_expiring
from .common import audit, lock_member

Kind, Source = PointsEntry.Kind, PointsEntry.Source

MSG_REASON_REQUIRED = _("A reason is required for a manual adjustment.")
MSG_ADJUST_NEEDS_MANAGER = _("Adjustments above %(limit)s points need a store manager.")
MSG_ZERO = _("The number of points cannot be zero.")


# ---------------------------------------------------------------------------------------
# When earned points expire and become available (the earn rule itself is pricing.earn)
# ---------------------------------------------------------------------------------------


def expiry_for(earned_at: datetime, program: ProgramSettings) -> datetime | None:
    """When points earned at `earned_at` expire, in Asia/Shanghai, at 23:59:59 of the last day."""
    if program.expiry_policy == ExpiryPolicy.NEVER:
        return None
    d = local(earned_at).date()
    if program.expiry_policy == ExpiryPolicy.YEAR_END:
        last = date(d.year + 1, 12, 31)
    else:
        months = d.month - 1 + program.expiry_months
        year, month = d.year + months // 12, months % 12 + 1
        last = date(year, month, min(d.day, calendar.monthrange(year, month)[1]))
    return datetime.combine(last, time(23, 59, 59), tzinfo=tz())


def available_from(earned_at: datetime, program: ProgramSettings) -> datetime | None:
    return earned_at + timedelta(days=program.pending_days) if program.pending_days else None


# ---------------------------------------------------------------------------------------
# Lot mechanics (member already locked)
# ---------------------------------------------------------------------------------------


def credit_locked(
    member: Member,
    *,
    amount: int,
    kind: str,
    source: str,
    at: datetime,
    program: ProgramSettings,
    pending_until: datetime | None = None,
    expires_at: datetime | None = None,
    **fields,
) -> PointsEntry:
    """Add a lot to a member locked by the caller's transaction. Available points first pay any debt
    left by a reversal. Saving the member's balances is the caller's job."""
    if amount <= 0:
        raise Invalid(MSG_ZERO, field="points")
    pending = pending_until is not None and pending_until > at
    remaining = _add_to_balances(member, amount, pending=pending)
    if expires_at is None:
        expires_at = expiry_for(at, program)
    return rows.insert(
        PointsEntry(
            member=member,
            amount=amount,
            kind=kind,
            source=source,
            created_at=at,
            balance_after=member.points_balance,
            remaining=remaining,
            pending=pending,
            available_at=pending_until if pending else None,
            expires_at=expires_at,
            **fields,
        )
    )


def _add_to_balances(member: Member, amount: int, *, pending: bool = False) -> int:
    """Add a credit to a locked member's cached balances; returns what is left of it for the lot
    after it repays any debt (available credits only)."""
    if pending:
        member.points_pending += amount
        return amount
    remaining = max(0, amount + min(0, member.points_balance))
    member.points_balance += amount
    if member.points_balance >= 0:
        member.points_flagged = False
    return remaining


def _take_from_lots(lots, amount: int) -> tuple[int, list[PointsEntry]]:
    """Take up to `amount` from `lots` in order; returns (taken, changed lots)."""
    taken, changed = 0, []
    for lot in lots:
        if taken >= amount:
            break
        use = min(lot.remaining, amount - taken)
        lot.remaining -= use
        taken += use
        changed.append((lot, use))
    return taken, changed


def debit_locked(
    member: Member,
    *,
    amount: int,
    kind: str,
    source: str,
    at: datetime,
    allow_negative: bool = False,
    prefer_purchase=None,
    **fields,
) -> PointsEntry:
    """Take `amount` points from a member locked by the caller's transaction: what is due expires
    first (so a debit never counts expired points), then `prefer_purchase`'s own lots (pending ones
    included) when given, then available lots that expire first. Without allow_negative, never
    below zero. Saving the member's balances is the caller's job."""
    if amount <= 0:
        raise Invalid(MSG_ZERO, field="points")
    _expire_member_due(member, at)
    if not allow_negative and amount > member.points_balance:
        raise InsufficientPoints(field="points", balance=member.points_balance)
    open_lots = PointsEntry.objects.select_for_update().filter(member=member, remaining__gt=0)
    ordered = []
    if prefer_purchase is not None:
        ordered += list(open_lots.filter(purchase=prefer_purchase, kind=Kind.EARN).order_by("id"))
    seen = {lot.pk for lot in ordered}
    ordered += [
        lot
        for lot in open_lots.filter(pending=False)
        .exclude(expires_at__lte=at)
        .order_by(F("expires_at").asc(nulls_last=True), "id")
        if lot.pk not in seen
    ]
    taken, changed = _take_from_lots(ordered, amount)
    from_pending = sum(use for lot, use in changed if lot.pending)
    for lot, _use in changed:
        lot.save(update_fields=["remaining"])
    member.points_pending -= from_pending
    member.points_balance -= amount - from_pending
    flagged = member.points_balance < 0
    if flagged:
        member.points_flagged = True
    return PointsEntry.objects.create(
        member=member,
        amount=-amount,
        kind=kind,
        source=source,
        created_at=at,
        balance_after=member.points_balance,
        remaining=0,
        flagged=flagged,
        **fields,
    )


def _expire_member_due(member: Member, at: datetime) -> int:
    """Expire what is due on one locked member, so a spend never counts expired points."""
    due = list(
        PointsEntry.objects.select_for_update().filter(
            member=member, remaining__gt=0, pending=False, expires_at__lte=at
        )
    )
    total = sum(lot.remaining for lot in due)
    if not total:
        return 0
    PointsEntry.objects.filter(pk__in=[lot.pk for lot in due]).update(remaining=0)
    member.points_balance -= total
    PointsEntry.objects.create(
        member=member,
        amount=-total,
        kind=Kind.EXPIRE,
        source=Source.EXPIRY,
        created_at=at,
        balance_after=member.points_balance,
        remaining=0,
    )
    _announce_expired([(member.pk, member.member_no, total, member.points_balance)], at)
    return total


def _announce_expired(expired, at: datetime) -> None:
    """points.expired for each (member id, member number, points expired, balance after), one INSERT."""
    send_all_after_commit(
        points_expired,
        [
            dict(
                member_id=member_id,
                data={
                    "member_no": member_no,
                    "points": total,
                    "balance": balance,
                    "occurred_at": local(at).isoformat(),
                },
            )
            for member_id, member_no, total, balance in expired
        ],
    )


def reward_profile_locked(member: Member, *, at: datetime, program: ProgramSettings) -> int:
    """Behaviour points for completing the profile (a birthday, a gender), each once per member for
    ever (keyed), on a member locked by the caller; 0 in the settings turns a reward off. Returns the
    points given; saving the balances is the caller's job."""
    given = 0
    for has, points, what in (
        (member.birth_month is not None, program.profile_birthday_points, "birthday"),
        (member.gender in ("F", "M"), program.profile_gender_points, "gender"),
    ):
        key = f"profile:{what}:{member.pk}"
        if has and points and not PointsEntry.objects.filter(idempotency_key=key).exists():
            credit_locked(
                member,
                amount=points,
                kind=Kind.BONUS,
                source=Source.PROFILE,
                at=at,
                program=program,
                source_ref=what,
                idempotency_key=key,
            )
            given += points
    return given


def _save_balances(member: Member) -> None:
    member.save(update_fields=["points_balance", "points_pending", "points_flagged"])


def _replayed(idempotency_key: str | None) -> PointsEntry | None:
    if idempotency_key:
        return PointsEntry.objects.filter(idempotency_key=idempotency_key).first()
    return None


# ---------------------------------------------------------------------------------------
# Public services
# ---------------------------------------------------------------------------------------


def grant(
    *,
    member,
    points: int,
    source: str,
    idempotency_key: str,
    source_ref: str = "",
    store=None,
    acting_user=None,
    reason: str = "",
    kind: str = Kind.BONUS,
    at: datetime | None = None,
) -> PointsEntry:
    """Give bonus points (campaign scenes, check-in, referral, mall cancellation). Idempotent."""
    with transaction.atomic():
        member = lock_member(member)
        if entry := _replayed(idempotency_key):
            return entry
        at = at or now()
        program = config.program()
        entry = credit_locked(
            member,
            amount=points,
            kind=kind,
            source=source,
            at=at,
            program=program,
            source_ref=source_ref,
            store=store,
            operator=acting_user,
            reason=reason,
            idempotency_key=idempotency_key,
        )
        _save_balances(member)
        return entry


def take_back(
    *,
    member,
    points: int,
    source: str,
    idempotency_key: str,
    source_ref: str = "",
    at: datetime | None = None,
) -> PointsEntry:
    """Take back points given earlier (a referral reward whose purchase was returned). Like a
    return's reversal, the balance may go below zero, and that is flagged. Idempotent."""
    with transaction.atomic():
        member = lock_member(member)
        if entry := _replayed(idempotency_key):
            return entry
        entry = debit_locked(
            member,
            amount=points,
            kind=Kind.REVERSE,
            source=source,
            at=at or now(),
            allow_negative=True,
            source_ref=source_ref,
            idempotency_key=idempotency_key,
        )
        _save_balances(member)
        return entry


def grant_bulk(*, grants, source: str, source_ref: str = "", kind: str = Kind.BONUS, at: datetime | None = None) -> int:
    """Bonus points to many members in one transaction, for campaign batches: `grants` is a list of
    (member_id, points, idempotency_key). Members are locked in id order; keys already used are
    skipped, so a re-run grants nothing twice. Returns how many entries were written."""
    at = at or now()
    program = config.program()
    expires = expiry_for(at, program)
    with transaction.atomic():
        used = set(
            PointsEntry.objects.filter(idempotency_key__in=[key for _m, _p, key in grants]).values_list(
                "idempotency_key", flat=True
            )
        )
        todo = [g for g in grants if g[2] not in used and g[1] > 0]
        if not todo:
            return 0
        members = {
            m.pk: m
            for m in Member.objects.select_for_update(no_key=True)
            .filter(pk__in={g[0] for g in todo})
            .order_by("pk")
            .only("pk", "points_balance", "points_pending", "points_flagged")
        }
        entries = []
        for member_id, amount, key in todo:
            member = members[member_id]
            remaining = _add_to_balances(member, amount)
            entries.append(
                PointsEntry(
                    member_id=member_id,
                    amount=amount,
                    kind=kind,
                    source=source,
                    source_ref=source_ref,
                    created_at=at,
                    balance_after=member.points_balance,
                    remaining=remaining,
                    expires_at=expires,
                    idempotency_key=key,
                )
            )
        rows.insert_many(entries)
        _save_many_balances(members.values())
        return len(entries)


BALANCES_PER_STATEMENT = 1000


def _save_many_balances(members) -> None:
    """The points balances of many locked members, one statement per thousand. Django's bulk_update
    builds a CASE with one WHEN per member and field, which was most of a birthday batch's CPU
    (bench_scenes): here the new values are one VALUES list joined on the id (SQLite 3.33+, PostgreSQL)."""
    balances = [(m.pk, m.points_balance, m.points_flagged) for m in members]
    table = connection.ops.quote_name(Member._meta.db_table)
    with connection.cursor() as cur:
        for start in range(0, len(balances), BALANCES_PER_STATEMENT):
            chunk = balances[start : start + BALANCES_PER_STATEMENT]
            cur.execute(
                f"UPDATE {table} SET points_balance = v.column2, points_flagged = v.column3"  # nosec B608
                f" FROM (VALUES {', '.join(['(%s, %s, %s)'] * len(chunk))}) AS v WHERE {table}.id = v.column1",
                [value for row in chunk for value in row],
            )


def spend(
    *,
    member,
    points: int,
    source: str,
    idempotency_key: str,
    source_ref: str = "",
    store=None,
    acting_user=None,
    reason: str = "",
    at: datetime | None = None,
) -> PointsEntry:
    """Spend points outside a sale (a mall order). FIFO by expiry; never below zero. Idempotent."""
    with transaction.atomic():
        member = lock_member(member)
        if entry := _replayed(idempotency_key):
            return entry
        at = at or now()
        entry = debit_locked(
            member,
            amount=points,
            kind=Kind.REDEEM,
            source=source,
            at=at,
            source_ref=source_ref,
            store=store,
            operator=acting_user,
            reason=reason,
            idempotency_key=idempotency_key,
        )
        _save_balances(member)
        return entry


def adjust(
    *,
    member,
    points: int,
    reason: str,
    acting_user,
    idempotency_key: str | None = None,
    store=None,
    at: datetime | None = None,
) -> PointsEntry:
    """Manual adjustment with a reason; above the program's limit only a manager or HQ may do it.
    A negative adjustment never takes the balance below zero."""
    if not reason or not reason.strip():
        raise Invalid(MSG_REASON_REQUIRED, field="reason")
    if not points:
        raise Invalid(MSG_ZERO, field="points")
    program = config.program()
    if not can_adjust_points(acting_user, points, program.adjustment_limit):
        raise Forbidden(MSG_ADJUST_NEEDS_MANAGER % {"limit": program.adjustment_limit}, field="points")
    with transaction.atomic():
        member = lock_member(member)
        if entry := _replayed(idempotency_key):
            return entry
        at = at or now()
        _check_clerks_day(member, acting_user, points, program.adjustment_limit, at)
        fields = dict(
            source_ref="",
            store=store or getattr(acting_user, "store", None),
            operator=acting_user,
            reason=reason.strip(),
            idempotency_key=idempotency_key,
        )
        if points > 0:
            entry = credit_locked(
                member, amount=points, kind=Kind.ADJUST, source=Source.MANUAL, at=at, program=program, **fields
            )
        else:
            entry = debit_locked(member, amount=-points, kind=Kind.ADJUST, source=Source.MANUAL, at=at, **fields)
        _save_balances(member)
        audit("points.adjust", member=member, operator=acting_user, points=points, reason=reason.strip())
        send_after_commit(
            points_adjusted,
            member_id=member.pk,
            entry_id=entry.pk,
            data={
                "member_no": member.member_no,
                "points": points,
                "balance": member.points_balance,
                "store": getattr(fields["store"], "code", None),
                "occurred_at": local(at).isoformat(),
            },
        )
        return entry


# ---------------------------------------------------------------------------------------
# Set-based periodic work: expiry, pending release, expiry notices
# ---------------------------------------------------------------------------------------

BATCH_MEMBERS = 20_000


def _member_ranges(queryset, width: int):
    """Consecutive member-id ranges [lo, hi] that cover every member in `queryset`."""
    bounds = queryset.aggregate(lo=Min("member_id"), hi=Max("member_id"))
    if bounds["lo"] is None:
        return
    lo = bounds["lo"]
    while lo <= bounds["hi"]:
        yield lo, lo + width - 1
        lo += width


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def expire_due(*, at: datetime | None = None, batch_members: int = BATCH_MEMBERS) -> int:
    """Expire every lot whose expiry has passed: one expire entry per member, in member-id ranges,
    each range one transaction that first locks the range's members that have something to expire,
    then expires their lots set-based (on PostgreSQL in one statement). Safe to re-run and to resume
    after a crash (a finished range has nothing left to expire; an unfinished one was rolled back)."""
    at = at or now()
    due = PointsEntry.objects.filter(remaining__gt=0, pending=False, expires_at__lte=at)
    expired = 0
    for lo, hi in list(_member_ranges(due, batch_members)):
        with transaction.atomic():
            # lock the members of this range that have something to expire (member rows first)
            locked = list(
                Member.objects.select_for_update(no_key=True)
                .filter(
                    pk__gte=lo, pk__lte=hi, pk__in=due.filter(member_id__gte=lo, member_id__lte=hi).values("member_id")
                )
                .order_by("pk")
                .values_list("pk", flat=True)
            )
            if not locked:
                continue
            if connection.vendor == "postgresql":
                expired += _expire_range_postgresql(lo, hi, locked, at)
            else:
                expired += _expire_range_portable(lo, hi, at)
    return expired


def _expire_range_postgresql(lo: int, hi: int, locked: list[int], at: datetime) -> int:
    """One statement: sum the due lots per member, zero them, lower the balances, write one expire
    entry per member with the balance after. Only the members locked above are touched: every
    writer of lots locks the member first, so their lots cannot change under this statement (a
    member that became due since the lock is left for the next run). Each part finds its rows
    through the member-id range, never by scanning the whole ledger. It returns each member's total and
    new balance, published as points.expired in one INSERT."""
    entries, members = _table(PointsEntry), _table(Member)
    lot_due = (
        "member_id BETWEEN %(lo)s AND %(hi)s AND member_id = ANY(%(locked)s)"
        " AND remaining > 0 AND NOT pending AND expires_at <= %(at)s"
    )
    with connection.cursor() as cur:
        cur.execute(
            f"WITH due AS (SELECT member_id, SUM(remaining) AS total FROM {entries} WHERE {lot_due}"  # nosec B608
            f" GROUP BY member_id),"
            f" zeroed AS (UPDATE {entries} SET remaining = 0 WHERE {lot_due} RETURNING 1),"
            f" lowered AS (UPDATE {members} m SET points_balance = m.points_balance - due.total FROM due"
            f" WHERE m.id = due.member_id AND m.id BETWEEN %(lo)s AND %(hi)s"
            f" RETURNING m.id, m.member_no, m.points_balance, due.total),"
            f" written AS (INSERT INTO {entries} (member_id, amount, kind, source, source_ref, reason, created_at,"
            f" balance_after, remaining, pending, flagged)"
            f" SELECT id, -total, %(kind)s, %(source)s, '', '', %(at)s, points_balance, 0, false, false FROM lowered)"
            f" SELECT id, member_no, total, points_balance, (SELECT count(*) FROM zeroed) FROM lowered",
            {"lo": lo, "hi": hi, "locked": locked, "at": at, "kind": Kind.EXPIRE, "source": Source.EXPIRY},
        )
        expired = cur.fetchall()
    _announce_expired([row[:4] for row in expired], at)
    return expired[0][4] if expired else 0


def _expire_range_portable(lo: int, hi: int, at: datetime) -> int:
    """Four set-based statements (any database; SQLite's write lock serialises writers anyway): the
    members' totals (for points.expired), the expire entries, the balances, the lots."""
    entries, members = _table(PointsEntry), _table(Member)
    lot_due = "l.remaining > 0 AND l.pending = %s AND l.expires_at <= %s"
    at_db = connection.ops.adapt_datetimefield_value(at)
    due_params = [False, at_db]
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT l.member_id, m.member_no, SUM(l.remaining), m.points_balance - SUM(l.remaining)"  # nosec B608
            f" FROM {entries} l JOIN {members} m ON m.id = l.member_id"
            f" WHERE l.member_id BETWEEN %s AND %s AND {lot_due} GROUP BY l.member_id, m.member_no, m.points_balance",
            [lo, hi, *due_params],
        )
        _announce_expired(cur.fetchall(), at)
        cur.execute(
            f"INSERT INTO {entries} (member_id, amount, kind, source, source_ref, reason, created_at,"  # nosec B608
            f" balance_after, remaining, pending, flagged)"
            f" SELECT l.member_id, -SUM(l.remaining), %s, %s, '', '', %s, m.points_balance - SUM(l.remaining),"
            f" 0, %s, %s FROM {entries} l JOIN {members} m ON m.id = l.member_id"
            f" WHERE l.member_id BETWEEN %s AND %s AND {lot_due} GROUP BY l.member_id, m.points_balance",
            [Kind.EXPIRE, Source.EXPIRY, at_db, False, False, lo, hi, *due_params],
        )
        cur.execute(
            f"UPDATE {members} SET points_balance = points_balance - (SELECT SUM(l.remaining)"  # nosec B608
            f" FROM {entries} l WHERE l.member_id = {members}.id AND {lot_due})"
            f" WHERE id BETWEEN %s AND %s AND EXISTS (SELECT 1 FROM {entries} l"
            f" WHERE l.member_id = {members}.id AND {lot_due})",
            [*due_params, lo, hi, *due_params],
        )
        cur.execute(
            f"UPDATE {entries} SET remaining = 0 WHERE id IN (SELECT l.id FROM {entries} l"  # nosec B608
            f" WHERE l.member_id BETWEEN %s AND %s AND {lot_due})",
            [lo, hi, *due_params],
        )
        return cur.rowcount


def release_pending(*, at: datetime | None = None, batch_members: int = BATCH_MEMBERS) -> int:
    """Make pending lots whose return window has passed available. Set-based per member-id range;
    the few members in debt (negative balance after a reversal) repay it from the released lots."""
    at = at or now()
    due = PointsEntry.objects.filter(pending=True, available_at__lte=at)
    released = 0
    for lo, hi in list(_member_ranges(due, batch_members)):
        with transaction.atomic():
            in_range = due.filter(member_id__gte=lo, member_id__lte=hi)
            locked = list(
                Member.objects.select_for_update(no_key=True).filter(pk__in=in_range.values("member_id")).order_by("pk")
            )
            in_debt = [m for m in locked if m.points_balance < 0]
            healthy = in_range.exclude(member_id__in=[m.pk for m in in_debt])
            total = Subquery(
                healthy.filter(member_id=OuterRef("pk")).values("member_id").annotate(s=Sum("remaining")).values("s")
            )
            Member.objects.filter(pk__in=healthy.values("member_id")).update(
                points_balance=F("points_balance") + total, points_pending=F("points_pending") - total
            )
            released += healthy.update(pending=False)
            for member in in_debt:
                for lot in in_range.filter(member=member).order_by("id"):
                    member.points_pending -= lot.remaining
                    repay = min(lot.remaining, max(0, -member.points_balance))
                    member.points_balance += lot.remaining
                    lot.remaining -= repay
                    lot.pending = False
                    lot.save(update_fields=["remaining", "pending"])
                    released += 1
                member.points_flagged = member.points_balance < 0
                _save_balances(member)
    return released


def send_expiry_notices(*, at: datetime | None = None) -> int:
    """Tell members about points expiring within the notice period, once per member and expiry date."""
    at = at or now()
    program = config.program()
    if program.expiry_policy == ExpiryPolicy.NEVER:
        return 0
    horizon = at + timedelta(days=program.expiry_notice_days)
    notified = ExpiryNotice.objects.filter(member_id=OuterRef("member_id"), expires_at=OuterRef("expires_at"))
    rows = (
        PointsEntry.objects.filter(
            ~Exists(notified), remaining__gt=0, pending=False, expires_at__gt=at, expires_at__lte=horizon
        )
        .values("member_id", "expires_at")
        .annotate(points=Sum("remaining"))
        .order_by("member_id")
    )
    sent = 0
    batch = []
    for row in rows.iterator(chunk_size=5000):
        batch.append(ExpiryNotice(member_id=row["member_id"], expires_at=row["expires_at"], points=row["points"]))
        if len(batch) >= 5000:
            sent += _store_notices(batch)
            batch = []
    if batch:
        sent += _store_notices(batch)
    return sent


def _store_notices(batch) -> int:
    with transaction.atomic():
        created = ExpiryNotice.objects.bulk_create(batch, ignore_conflicts=True)
        send_all_after_commit(
            points_expiring,
            [dict(member_id=notice.member_id, points=notice.points, expires_at=notice.expires_at) for notice in batch],
        )
    return len(created)


MSG_ASKED = _("Adjustments above %(limit)s points wait for a store manager's approval.")
MSG_DECIDED = _("This adjustment was decided already.")


class OverTheDaysLimit(Forbidden):
    """A clerk's adjustment within the limit on its own, past it with the day's others (R5)."""


MSG_DAYS_LIMIT = _(
    "With today's other adjustments (yours, or on this member) this passes %(limit)s points: it needs a store manager."
)


def _check_clerks_day(member: Member, user, points: int, limit: int, at: datetime) -> None:
    """A clerk's adjustments count against the limit per clerk and per member over the local day, so
    that ten adjustments of 1,000 points are not one of 10,000 without a manager. Managers and HQ
    have no limit. Called under the member's lock; the clerk's row is locked too (after the member,
    always), so parallel adjustments by one clerk on two members are counted one after the other."""
    if can_adjust_points(user):  # a manager or HQ
        return
    User.objects.select_for_update().filter(pk=user.pk).first()
    today = PointsEntry.objects.filter(
        kind=Kind.ADJUST, source=Source.MANUAL, created_at__gte=day_start(local(at).date()), operator__role=user.role
    )
    total = Abs("amount")
    by_clerk = today.filter(operator=user).aggregate(total=Sum(total))["total"] or 0
    on_member = today.filter(member=member).aggregate(total=Sum(total))["total"] or 0
    if max(by_clerk, on_member) + abs(points) > limit:
        raise OverTheDaysLimit(MSG_DAYS_LIMIT % {"limit": limit}, field="points")


def request_adjustment(*, member, points: int, reason: str, acting_user, idempotency_key: str | None = None):
    """A manual adjustment from the counter: applied at once within what the user may do (a clerk up to
    the program's limit, a manager any size), else queued for a store manager of the same store.
    Returns the ledger entry, or the AdjustmentRequest waiting for approval."""
    from ..models import AdjustmentRequest
    from ..permissions import can_use_counter

    if not reason or not reason.strip():
        raise Invalid(MSG_REASON_REQUIRED, field="reason")
    if not points:
        raise Invalid(MSG_ZERO, field="points")
    program = config.program()
    if can_adjust_points(acting_user, points, program.adjustment_limit):
        try:
            return adjust(
                member=member, points=points, reason=reason, acting_user=acting_user, idempotency_key=idempotency_key
            )
        except OverTheDaysLimit:
            pass  # with the day's others it passes the limit: a manager decides
    if not can_use_counter(acting_user):
        raise Forbidden(MSG_ADJUST_NEEDS_MANAGER % {"limit": program.adjustment_limit}, field="points")
    asked = AdjustmentRequest.objects.create(
        member_id=getattr(member, "pk", member),
        points=points,
        reason=reason.strip(),
        requested_by=acting_user,
        store=acting_user.store,
        created_at=now(),
    )
    audit("points.adjust_requested", member=asked.member, operator=acting_user, points=points, request=asked.pk)
    return asked


def decide_adjustment(*, request_id: int, approve: bool, acting_user):
    """A store manager (of the request's store) or HQ approves or rejects a waiting adjustment; an
    approval applies it once (keyed by the request)."""
    from ..models import AdjustmentRequest
    from ..permissions import is_hq, is_manager

    with transaction.atomic():
        asked = AdjustmentRequest.objects.select_for_update().filter(pk=request_id).first()
        if asked is None:
            raise Invalid(_("No such adjustment request."), field="request")
        if not (is_hq(acting_user) or (is_manager(acting_user) and acting_user.store_id == asked.store_id)):
            raise Forbidden(MSG_ADJUST_NEEDS_MANAGER % {"limit": config.program().adjustment_limit}, field="points")
        if asked.status != AdjustmentRequest.Status.PENDING:
            raise Invalid(MSG_DECIDED, field="request")
        if approve:
            asked.entry = adjust(
                member=asked.member_id,
                points=asked.points,
                reason=f"{asked.reason} ({asked.requested_by.username})",
                acting_user=acting_user,
                idempotency_key=f"adjust-request:{asked.pk}",
                store=asked.store,
            )
        asked.status = AdjustmentRequest.Status.APPROVED if approve else AdjustmentRequest.Status.REJECTED
        asked.decided_by, asked.decided_at = acting_user, now()
        asked.save(update_fields=["status", "decided_by", "decided_at", "entry"])
        audit(
            "points.adjust_approved" if approve else "points.adjust_rejected",
            member=asked.member,
            operator=acting_user,
            request=asked.pk,
        )
        return asked
