"""`manage.py import_members FILE [--dry-run] [--skip-bad-rows] [--tier-floor-until DATE]`: members from a
previous system with their balances, lots, cards and tiers (the membership/migration package)."""

import time

from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_date

from membership import migration
from membership.models import User


class Command(BaseCommand):
    help = (
        "Import members with their points lots, stored value, growth, tier and cards from a CSV or XLSX "
        "file. The whole file is one transaction: a file with a bad row writes nothing unless "
        "--skip-bad-rows. Re-running a file changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--dry-run", action="store_true", help="Check and reconcile; write nothing.")
        parser.add_argument("--skip-bad-rows", action="store_true", help="Import the valid rows, list the bad ones.")
        parser.add_argument(
            "--tier-floor-until",
            default=None,
            help="YYYY-MM-DD: keep the file's tiers as a floor until this date "
            "(else the tier is computed from the growth value).",
        )
        parser.add_argument("--user", default=None, help="Username recorded as the operator.")
        parser.add_argument("--batch-rows", type=int, default=migration.BATCH_ROWS)
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, **options):
        floor = None
        if options["tier_floor_until"]:
            floor = parse_date(options["tier_floor_until"])
            if floor is None:
                raise CommandError("--tier-floor-until: enter a date as YYYY-MM-DD.")
        user = None
        if options["user"]:
            user = User.objects.filter(username=options["user"]).first()
            if user is None:
                raise CommandError(f"--user: no staff user {options['user']}.")
        started = time.monotonic()
        show = not options["no_progress"]

        def progress(done, total):
            if not show:
                return
            rate = done / max(time.monotonic() - started, 1e-9)
            of = f"/{total}" if total else ""
            pct = f" {100 * done // total:3d}%" if total else ""
            self.stderr.write(f"\r{done}{of} rows{pct}  {rate:,.0f} rows/s", ending="")
            self.stderr.flush()

        try:
            with open(options["file"], "rb") as f:
                result = migration.import_file(
                    f,
                    options["file"],
                    acting_user=user,
                    dry_run=options["dry_run"],
                    skip_bad_rows=options["skip_bad_rows"],
                    tier_floor_until=floor,
                    batch_rows=options["batch_rows"],
                    progress=progress,
                )
        except OSError as exc:
            raise CommandError(str(exc)) from exc
        seconds = time.monotonic() - started
        if show:
            self.stderr.write("")
        self.print_result(result, seconds)
        if result.base_errors or (result.errors and not result.skip_bad_rows):
            raise CommandError("Nothing was imported." if not result.dry_run else "The file has errors.")

    def print_result(self, result, seconds):
        out = self.stdout
        for error in result.base_errors:
            out.write(f"error: {error}")
        for number, column, message in result.errors:
            out.write(f"row {number}, {column}: {message}")
        written = "would be written" if result.dry_run else ("written" if result.committed else "written (rolled back)")
        out.write(f"{'':24} {'in the file':>18} {written:>22}")
        for label, in_file, done in result.table():
            out.write(f"{label:24} {in_file:>18} {done:>22}")
        rate = result.in_file.rows / seconds if seconds else 0
        out.write(f"{result.in_file.rows} rows in {seconds:.1f} s ({rate:,.0f} rows/s)")
        if result.dry_run:
            out.write("Dry run: nothing was written.")
        elif not result.committed:
            out.write("Nothing was imported: fix the rows above, or run again with --skip-bad-rows.")
        else:
            out.write(self.style.SUCCESS("Imported."))
