"""Writing a batch of valid rows: new members with their card, tier change, growth and audit entry;
lots and stored value for every row whose key is not used yet; tags; at the end of the file, the
referrers. What a batch needs it reads at once; its inserts and updates are planned in a BulkWriter
(bulk.py) that writes them, behind the next batch on PostgreSQL (pipeline.py).

`reads` is how the database is read meanwhile: `reads.reader`, a connection that sees committed rows
(perhaps not the batch still being written), and `reads.wait()`, which waits until that batch is
written, before the import's own connection is used (to lock rows)."""

from datetime import date
from decimal import Decimal
from types import SimpleNamespace

from ..models import AuditLog, Card, Channel, GrowthEntry, Member, PointsEntry, StoredValueEntry, Tag, TierChange
from ..services import cards, enrolment
from ..services.points import _add_to_balances
from .bulk import BulkWriter, lookup
from .check import FileSoFar
from .parse import Row
from .result import Result

SOURCE = "import"
OPENING_REASON = "opening balance (import)"
BALANCES = ("points_balance", "points_pending", "points_flagged", "sv_principal", "sv_bonus")


class Writes:
    """Writes the batches of one import, at its time `at` by `user`, with the tiers in rank order; a
    tier given in the file is kept as a floor until `tier_floor_until` (when given). Counts what it
    writes in `result.written`; remembers across batches the numbers it drew, the tags' ids and the
    members whose referrer is linked at the end."""

    def __init__(self, *, at, user, tiers: list, tier_floor_until: date | None, seen: FileSoFar, result: Result):
        self.at, self.user, self.tiers, self.tier_floor_until = at, user, tiers, tier_floor_until
        self.operator_id = user.pk if user else None
        self.seen, self.result = seen, result
        self.pending_referrers: list[tuple[int, str, int]] = []  # (member id, referrer phone, row number)
        self.tag_ids: dict[str, int] = {}
        # member numbers, referral codes and virtual card numbers this import drew: a batch not yet
        # written is not in the database, and the next batch's draws must not collide with it
        self.drawn: dict[str, set[str]] = {"member_no": set(), "referral_code": set(), "card": set()}

    def write(self, rows: list[Row], reads) -> BulkWriter:
        """Plan the writes of valid rows (checked, each `.new` or with its `.member_id`): bulk statements,
        members in id order."""
        bulk = BulkWriter()
        new_rows = [r for r in rows if r.new]
        members = self._new_members(bulk, new_rows, reads.reader)
        balances = self._balances(rows, members, reads)
        lots, sv_entries, touched = self._opening_balances(rows, balances, self._used_keys(rows, reads.reader))
        for m in members:
            b = balances[m["id"]]
            m.update({name: getattr(b, name) for name in BALANCES})
        bulk.insert(Member, members)
        self.result.written.members += len(members)
        self._write_cards(bulk, rows, members, reads)
        self._write_enrolments(bulk, new_rows)
        bulk.insert(PointsEntry, lots)
        bulk.insert(StoredValueEntry, sv_entries)
        changed = [balances[pk] for pk in sorted(touched)]  # members of earlier imports given a new lot
        if changed:
            bulk.then(Member.objects.bulk_update, changed, list(BALANCES))
        self._write_tags(bulk, rows, reads)
        return bulk

    # ---------------------------------------------------------------- new members

    def _new_members(self, bulk: BulkWriter, new_rows: list[Row], reader) -> list[dict]:
        """The new members' columns (their ids reserved now), each row given its member's id."""
        ids = bulk.reserve_ids(Member, len(new_rows), using=reader)
        entry = self.tiers[0]
        members = []
        for row, pk in zip(new_rows, ids):
            tier, floor = self._tier(row, entry)
            members.append(self._member(row, pk, tier, floor))
            row.member_id = pk
            self.seen.member_ids[row.phone] = pk
            if floor is not None:
                change = (TierChange.Reason.MIGRATION, f"kept until {self.tier_floor_until.isoformat()}")
            else:
                change = (TierChange.Reason.ENROL, f"growth {row.growth}" if row.growth else "")
            row.tier_change = (tier.pk,) + change
            if row.referrer_phone:
                self.pending_referrers.append((pk, row.referrer_phone, row.number))
        self._unique_member_numbers(members, reader)
        return members

    def _tier(self, row: Row, entry) -> tuple:
        """(tier, floor): the tier the growth value reaches, or the file's tier kept as a floor when it
        is higher and a floor date was given (floor: that tier, else None)."""
        growth = row.growth or 0
        reached = max((t for t in self.tiers if t.reach_growth <= growth), key=lambda t: t.rank, default=entry)
        floor = row.tier if (row.tier is not None and self.tier_floor_until) else None
        tier = floor if floor is not None and floor.rank >= reached.rank else reached
        return tier, floor

    def _member(self, row: Row, pk: int, tier, floor) -> dict:
        joined = row.joined_at or self.at
        consent_at = (row.consent_at or joined) if row.marketing_consent else None
        member_no = row.member_no or enrolment._new_member_no()
        return dict(
            id=pk,
            member_no=member_no,
            phone=row.phone,
            name=row.name,
            gender=row.gender,
            birth_year=row.birthday.year if row.birthday else None,
            birth_month=row.birthday.month if row.birthday else None,
            birth_day=row.birthday.day if row.birthday else None,
            home_store_id=row.store.pk,
            channel=Channel.IMPORT,
            enrolled_by_id=self.operator_id,
            joined_at=joined,
            referral_code=enrolment._new_referral_code(),
            marketing_consent=row.marketing_consent,
            consent_at=consent_at,
            tier_id=tier.pk,
            tier_since=self.at,
            tier_floor_id=floor.pk if floor else None,
            tier_floor_until=self.tier_floor_until if floor else None,
            growth_value=row.growth or 0,
        )

    def _unique_member_numbers(self, members: list[dict], reader) -> None:
        """Generated member numbers and referral codes that collide with one in use, or with one this
        import drew for an earlier batch, are drawn again."""
        for column, draw in (("member_no", enrolment._new_member_no), ("referral_code", enrolment._new_referral_code)):
            drawn = self.drawn[column]
            while True:
                values = [m[column] for m in members]
                taken = {v for (v,) in lookup(Member, column, values, (column,), using=reader)}
                seen, again = set(), False
                for m in members:
                    if m[column] in taken or m[column] in seen or m[column] in drawn:
                        if column == "member_no" and m["member_no"] in self.seen.member_nos:
                            raise AssertionError("a member number checked free was taken meanwhile")
                        m[column] = draw()
                        again = True
                    seen.add(m[column])
                if not again:
                    drawn.update(values)
                    break

    def _write_enrolments(self, bulk: BulkWriter, new_rows: list[Row]) -> None:
        """What enrolment writes besides the member: its tier change, its growth, its audit entry."""
        at = self.at
        bulk.insert(
            TierChange,
            [
                dict(
                    member_id=r.member_id,
                    from_tier_id=None,
                    to_tier_id=r.tier_change[0],
                    reason=r.tier_change[1],
                    note=r.tier_change[2],
                    operator_id=self.operator_id,
                    created_at=at,
                    idempotency_key=None,
                )
                for r in new_rows
            ],
        )
        bulk.insert(
            GrowthEntry,
            [
                dict(member_id=r.member_id, amount=r.growth, purchase_id=None, created_at=at)
                for r in new_rows
                if r.growth
            ],
        )
        bulk.insert(
            AuditLog,
            [
                dict(
                    action="member.enrol",
                    member_id=r.member_id,
                    operator_id=self.operator_id,
                    data={"channel": Channel.IMPORT, "store": r.store.code, "row": r.number},
                    created_at=at,
                )
                for r in new_rows
            ],
        )

    # ---------------------------------------------------------------- opening balances

    def _balances(self, rows: list[Row], members: list[dict], reads) -> dict:
        """Each row's member's balances: zero for a new member; for a member of an earlier batch or
        import, its balances as written, locked (once that batch is written)."""
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
                row.member_id = self.seen.member_ids[row.phone]
        missing = sorted({r.member_id for r in rows} - set(balances))
        if missing:
            reads.wait()
        for m in (
            Member.objects.select_for_update(no_key=True).filter(pk__in=missing).order_by("pk").only("pk", *BALANCES)
        ):
            balances[m.pk] = m
        return balances

    def _used_keys(self, rows: list[Row], reader) -> set[str]:
        """The rows' idempotency keys already in the ledgers (a file imported again)."""
        keys = [f"import:p:{r.key}" for r in rows if r.points] + [
            f"import:sv:{r.key}" for r in rows if r.sv_principal or r.sv_bonus
        ]
        used = {
            k
            for (k,) in lookup(
                PointsEntry,
                "idempotency_key",
                [k for k in keys if k.startswith("import:p:")],
                ("idempotency_key",),
                using=reader,
            )
        }
        used |= {
            k
            for (k,) in lookup(
                StoredValueEntry,
                "idempotency_key",
                [k for k in keys if k.startswith("import:sv:")],
                ("idempotency_key",),
                using=reader,
            )
        }
        return used

    def _opening_balances(self, rows: list[Row], balances: dict, used: set[str]) -> tuple[list, list, set]:
        """(points lots, stored value entries, ids of existing members whose balances change), the
        balances updated as points.py and stored_value.py would."""
        lots, sv_entries, touched = [], [], set()
        for row in rows:
            b = balances[row.member_id]
            lot = self._lot(row, b, used)
            if lot is not None:
                lots.append(lot)
            sv_entry = self._sv_entry(row, b, used)
            if sv_entry is not None:
                sv_entries.append(sv_entry)
            if isinstance(b, Member) and (lot is not None or sv_entry is not None):
                touched.add(b.pk)
            self.result.written.rows += 1
        return lots, sv_entries, touched

    def _lot(self, row: Row, b, used: set[str]) -> dict | None:
        key = f"import:p:{row.key}"
        if not row.points or key in used:
            return None
        pending = row.pending_until is not None and row.pending_until > self.at
        remaining = _add_to_balances(b, row.points, pending=pending)
        self.result.written.points += row.points
        return dict(
            member_id=row.member_id,
            amount=row.points,
            kind=PointsEntry.Kind.ADJUST,
            source=PointsEntry.Source.IMPORT,
            source_ref=SOURCE,
            reason=OPENING_REASON,
            created_at=self.at,
            balance_after=b.points_balance,
            remaining=remaining,
            pending=pending,
            available_at=row.pending_until if pending else None,
            expires_at=row.expires_at,
            operator_id=self.operator_id,
            store_id=row.store.pk,
            idempotency_key=key,
        )

    def _sv_entry(self, row: Row, b, used: set[str]) -> dict | None:
        key = f"import:sv:{row.key}"
        if not (row.sv_principal or row.sv_bonus) or key in used:
            return None
        b.sv_principal += row.sv_principal
        b.sv_bonus += row.sv_bonus
        written = self.result.written
        written.sv_principal += row.sv_principal
        written.sv_bonus += row.sv_bonus
        return dict(
            member_id=row.member_id,
            kind=StoredValueEntry.Kind.ADJUST,
            principal=row.sv_principal,
            bonus=row.sv_bonus,
            principal_after=b.sv_principal,
            bonus_after=b.sv_bonus,
            source_ref=SOURCE,
            store_id=row.store.pk,
            operator_id=self.operator_id,
            created_at=self.at,
            idempotency_key=key,
        )

    # ---------------------------------------------------------------- cards, tags, referrers

    def _write_cards(self, bulk: BulkWriter, rows: list[Row], members: list[dict], reads) -> None:
        """The file's cards: a card in stock is bound, a new number is a new physical card; a new member
        without a card gets a virtual one, as at the counter."""
        wanted = {n: r.member_id for r in rows for n in r.cards}
        known = self._known_cards(rows, wanted, reads)
        bind_stock = [c for n, c in known.items() if c.member_id is None]
        new_cards = [self._card(n, pk, Card.Kind.PHYSICAL, batch=SOURCE) for n, pk in wanted.items() if n not in known]
        with_card = {r.member_id for r in rows if r.cards} | {c.member_id for c in known.values() if c.member_id}
        virtual = self._virtual_cards([m["id"] for m in members if m["id"] not in with_card], wanted, reads.reader)
        for card in bind_stock:
            card.member_id, card.status, card.bound_at = wanted[card.number], Card.Status.ACTIVE, self.at
        if bind_stock:
            bulk.then(Card.objects.bulk_update, bind_stock, ["member", "status", "bound_at"])
        bulk.insert(Card, new_cards + virtual)
        self.result.written.cards += len(bind_stock) + len(new_cards)

    def _known_cards(self, rows: list[Row], wanted: dict, reads) -> dict[str, Card]:
        """The file's cards that exist (in use or in stock), locked in the import's transaction; so are
        the cards of a member of an earlier batch or import (perhaps bound by an earlier batch not yet
        written)."""
        lock = any(r.cards and not r.new for r in rows) or lookup(Card, "number", wanted, ("id",), using=reads.reader)
        if lock:
            reads.wait()
        return {
            number: Card(pk=pk, number=number, status=status, member_id=member_id)
            for pk, number, status, member_id in (
                lookup(Card, "number", wanted, ("id", "number", "status", "member_id"), lock=True) if lock else ()
            )
        }

    def _virtual_cards(self, member_ids: list[int], wanted: dict, reader) -> list[dict]:
        """A virtual card for each of these members, its number free in the database, in the file and
        among the numbers drawn for earlier batches."""
        virtual = []
        drawn, earlier = set(), self.drawn["card"]
        for member_id in member_ids:
            number = cards.new_virtual_number()
            while number in drawn or number in earlier:
                number = cards.new_virtual_number()
            drawn.add(number)
            virtual.append(self._card(number, member_id, Card.Kind.VIRTUAL, batch=""))
        taken = {n for (n,) in lookup(Card, "number", drawn, ("number",), using=reader)}
        for card in virtual:
            while card["number"] in taken or card["number"] in wanted or card["number"] in earlier:
                card["number"] = cards.new_virtual_number()
            earlier.add(card["number"])
        return virtual

    def _card(self, number: str, member_id: int, kind, *, batch: str) -> dict:
        return dict(
            number=number,
            kind=kind,
            status=Card.Status.ACTIVE,
            member_id=member_id,
            batch=batch,
            replaces_id=None,
            bound_at=self.at,
            blocked_at=None,
            created_at=self.at,
        )

    def _write_tags(self, bulk: BulkWriter, rows: list[Row], reads) -> None:
        names = {t for r in rows for t in r.tags} - set(self.tag_ids)
        if names:
            reads.wait()
            Tag.objects.bulk_create([Tag(name=n) for n in names], ignore_conflicts=True)
            self.tag_ids.update(Tag.objects.filter(name__in=names).values_list("name", "pk"))
        through = Member.tags.through
        links = [through(member_id=r.member_id, tag_id=self.tag_ids[t]) for r in rows for t in r.tags]
        if links:
            bulk.then(through.objects.bulk_create, links, ignore_conflicts=True)

    def link_referrers(self) -> None:
        """Each new member's referrer, by phone: at the end, when every member of the file is written."""
        if not self.pending_referrers:
            return
        phones = {p for _pk, p, _n in self.pending_referrers}
        ids = dict(Member.objects.filter(phone__in=phones, status=Member.Status.ACTIVE).values_list("phone", "pk"))
        linked = [Member(pk=pk, referrer_id=ids[p]) for pk, p, _n in self.pending_referrers if p in ids]
        Member.objects.bulk_update(linked, ["referrer"], batch_size=2000)
