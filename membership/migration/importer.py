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

from django.db import connection, transaction
from django.utils.translation import gettext as _

from core.clock import local, now
from core.spreadsheets import UnreadableFile

from .. import config
from ..models import StoreTree, Tier
from .bulk import BulkWriter
from .cells import as_money, as_text, as_whole, phone_or_blank
from .check import FileSoFar, check_rows, error_lines
from .columns import BATCH_ROWS, REQUIRED
from .files import MemberFile
from .parse import Row, RowInvalid, RowParser
from .pipeline import AT_ONCE, WriteBehind, write_behind
from .result import Figures, Result
from .write import Writes


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
        tree = StoreTree.load()
        stores = {s.code: s for s in tree.nodes.values()}
        stores = {code: (s if tree.is_leaf(s.pk) else None) for code, s in stores.items()}  # None: HQ, a region
        tiers = {t.code: t for t in Tier.objects.order_by("rank")}
        self.parser = RowParser(stores=stores, tiers=tiers, at=self.at, today=self.today)
        self.seen = FileSoFar()
        self.writes = Writes(
            at=self.at,
            user=self.user,
            tiers=list(tiers.values()),
            tier_floor_until=tier_floor_until,
            seen=self.seen,
            result=self.result,
        )
        self.file_phones: set[str] = set()
        # how the checks and the writes read the database: through the import's own connection, unless
        # a write-behind (pipeline.py) gives a second one while it writes a batch
        self.pipe = AT_ONCE

    # ---------------------------------------------------------------- shape of one row

    def parse(self, raw: dict, number: int) -> Row:
        """One row's columns, each checked on its own; raises RowInvalid naming every bad column."""
        return self.parser.parse(raw, number)

    # ---------------------------------------------------------------- rules against the database

    def check(self, rows: list[Row]) -> tuple[list[Row], dict[int, dict]]:
        """The rows' rules against the database and the file so far (check.check_rows)."""
        return check_rows(rows, self.seen, self.pipe.reader)

    def know_phones(self, phones) -> None:
        """Every phone of the file (normalised, in its order), before the rows are checked: a referrer may
        come later in the file, and only a phone on several rows has its totals kept (check.py)."""
        once, again = set(), set()
        for phone in phones:
            if phone in once:
                again.add(phone)
            else:
                once.add(phone)
        self.seen.all_phones, self.seen.repeated = frozenset(once), frozenset(again)

    # ---------------------------------------------------------------- running a file

    def run(self, rows, total: int | None = None) -> Result:
        """Import an iterable of row dicts (the first data row is row 1). One transaction; rolled back
        for a dry run, or when a row is bad and bad rows are not to be skipped."""
        result = self.result
        with write_behind(connection) as writer:
            self.pipe = writer
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
            self.pipe = AT_ONCE
            if self.can_write():
                self.writes.link_referrers()
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
        if self.pipe.reader is connection:
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
        """Write valid rows (write.Writes): reads what it needs now; the writes are planned in the
        returned BulkWriter (`flush`), which on PostgreSQL runs in the import's writer thread
        (pipeline.WriteBehind)."""
        return self.writes.write(rows, self.pipe)


def import_file(fileobj, name: str = "members.csv", **options) -> Result:
    """Read a member file and import it (see Importer); a file without the required columns imports
    nothing and says which are missing, and so does a file that is no table (a picture, a ZIP, a CSV
    line the csv module cannot read: core.spreadsheets). The rows are read as they are imported, not
    held."""
    importer = Importer(**options)
    try:
        file = MemberFile(fileobj, name)
        missing = [c for c in REQUIRED if c not in file.headers]
        if missing:
            return _refused(
                importer,
                _("The file has no column %(columns)s. The first line must name the columns.")
                % {"columns": ", ".join(missing)},
            )
        importer.know_phones(map(phone_or_blank, file.column("phone")))
        return importer.run(file.rows(), total=file.total)
    except UnreadableFile as exc:  # the phones' pass read every line: the rows' pass reads them again
        return _refused(importer, str(exc))


def _refused(importer: Importer, message: str) -> Result:
    """The importer's result for a file refused as a whole: nothing written."""
    result = importer.result
    result.base_errors.append(message)
    result.rolled_back = not result.dry_run
    result.written = Figures()
    return result
