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

from datetime import date
from decimal import Decimal
from types import SimpleNamespace

from django.db import connection, transaction
from django.utils.translation import gettext as _

from .. import config
from ..models import (
    AuditLog,
    Card,
    Channel,
    GrowthEntry,
    Member,
    PointsEntry,
    Store,
    StoredValueEntry,
    Tag,
    Tier,
    TierChange,
)
from ..services import cards, enrolment
from ..services.common import local, now
from ..services.points import _add_to_balances
from .bulk import BulkWriter, lookup
from .cells import as_money, as_text, as_whole, phone_or_blank
from .check import FileSoFar, check_rows, error_lines
from .columns import (
    BATCH_ROWS,
    OPENING_REASON,
    REQUIRED,
    SOURCE,
)
from .files import MemberFile
from .parse import Row, RowInvalid, RowParser
from .pipeline import WriteBehind, write_behind
from .result import Figures, Result


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
        stores = {s.code: s for s in Store.objects.all()}
        tiers = {t.code: t for t in Tier.objects.order_by("rank")}
        self.tier_list = list(tiers.values())
        self.parser = RowParser(stores=stores, tiers=tiers, at=self.at, today=self.today)
        self.seen = FileSoFar()
        self.pending_referrers: list[tuple[int, str, int]] = []  # (member id, referrer phone, row number)
        self.tag_ids: dict[str, int] = {}
        self.file_phones: set[str] = set()
        # member numbers, referral codes and virtual card numbers this import drew: a batch not yet
        # written is not in the database, and the next batch's draws must not collide with it
        self.drawn: dict[str, set[str]] = {"member_no": set(), "referral_code": set(), "card": set()}
        # reads for checks (see pipeline.WriteBehind): the import's own connection unless a writer gives another
        self.reader = connection
        self.drain = lambda: None

    # ---------------------------------------------------------------- shape of one row

    def parse(self, raw: dict, number: int) -> Row:
        """One row's columns, each checked on its own; raises RowInvalid naming every bad column."""
        return self.parser.parse(raw, number)

    # ---------------------------------------------------------------- rules against the database

    def check(self, rows: list[Row]) -> tuple[list[Row], dict[int, dict]]:
        """The rows' rules against the database and the file so far (check.check_rows)."""
        return check_rows(rows, self.seen, self.reader)

    @property
    def all_phones(self) -> frozenset:
        """Every phone of the file (a referrer may come later in it); set before the rows are checked."""
        return self.seen.all_phones

    @all_phones.setter
    def all_phones(self, phones: frozenset) -> None:
        self.seen.all_phones = phones

    # ---------------------------------------------------------------- running a file

    def run(self, rows, total: int | None = None) -> Result:
        """Import an iterable of row dicts (the first data row is row 1). One transaction; rolled back
        for a dry run, or when a row is bad and bad rows are not to be skipped."""
        result = self.result
        with write_behind(connection) as writer:
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

    def _batch(self, numbered, writer: WriteBehind) -> None:
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
                self.file_phones.add(phone_or_blank(raw.get("phone")) or as_text(raw.get("phone")))
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
        figures.cards += len([n for n in as_text(raw.get("card_no")).split(";") if n.strip()])
        for column in ("points",):
            try:
                figures.points += as_whole(raw.get(column), column=column) or 0
            except ValueError:
                pass
        for column in ("sv_principal", "sv_bonus"):
            try:
                setattr(figures, column, getattr(figures, column) + as_money(raw.get(column)))
            except ValueError:
                pass

    def _keep_errors(self, number: int, errors: dict) -> None:
        self.result.errors.extend(error_lines(number, errors))

    # ---------------------------------------------------------------- writing valid rows

    def write(self, rows: list[Row]) -> BulkWriter:
        """Write valid rows: new members with their card, tier change, growth and audit entry; lots and
        stored value for every row whose key is not used yet. Bulk statements; members in id order.
        Reads what it needs now; the writes are planned in the returned writer (`flush`), which on
        PostgreSQL runs in the import's writer thread (pipeline.WriteBehind)."""
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
            self.seen.member_ids[row.phone] = pk
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
                row.member_id = self.seen.member_ids[row.phone]
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
            for (k,) in lookup(
                PointsEntry,
                "idempotency_key",
                [k for k in keys if k.startswith("import:p:")],
                ("idempotency_key",),
                using=self.reader,
            )
        }
        used |= {
            k
            for (k,) in lookup(
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
                taken = {v for (v,) in lookup(Member, column, values, (column,), using=self.reader)}
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

    def _write_cards(self, writer, rows, members) -> None:
        at, w = self.at, self.result.written
        wanted = {n: r.member_id for r in rows for n in r.cards}
        # cards in use or in stock are locked in the import's transaction; so are the cards of a
        # member of an earlier batch or import (perhaps bound by an earlier batch not yet written)
        lock = any(r.cards and not r.new for r in rows) or lookup(Card, "number", wanted, ("id",), using=self.reader)
        if lock:
            self.drain()
        known = {
            number: Card(pk=pk, number=number, status=status, member_id=member_id)
            for pk, number, status, member_id in (
                lookup(Card, "number", wanted, ("id", "number", "status", "member_id"), lock=True) if lock else ()
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
        taken = {n for (n,) in lookup(Card, "number", drawn, ("number",), using=self.reader)}
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
    importer.all_phones = frozenset(map(phone_or_blank, file.column("phone")))  # referrers later in the file
    return importer.run(file.rows(), total=file.total)
