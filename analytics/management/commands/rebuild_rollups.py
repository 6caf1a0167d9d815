"""Rebuild the analytics roll-ups for a range of days (each day replaced, so safe to repeat)."""

from datetime import date

from django.core.management.base import BaseCommand, CommandError

from analytics.services import rollups


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"not a date (YYYY-MM-DD): {value}") from exc


class Command(BaseCommand):
    help = (
        "Rebuild the analytics roll-ups from --from to --to (local days, inclusive; default: from the first "
        "enrolment or sale to yesterday) and the member snapshot as of --to."
    )

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="start", type=_day, help="first day (YYYY-MM-DD)")
        parser.add_argument("--to", dest="end", type=_day, help="last day (YYYY-MM-DD), default yesterday")
        parser.add_argument(
            "--only",
            action="append",
            choices=rollups.KINDS,
            help="only this roll-up (repeatable): " + ", ".join(rollups.KINDS),
        )
        parser.add_argument("--no-snapshot", action="store_true", help="leave the member snapshot as it is")

    def handle(self, *args, start=None, end=None, only=None, no_snapshot=False, verbosity=1, **options):
        end = end or rollups.yesterday()
        start = start or rollups.first_day() or end
        if start > end:
            raise CommandError(f"--from {start} is after --to {end}")
        report = rollups.rebuild(start, end, kinds=only, snapshot=not no_snapshot)
        if verbosity:
            self.stdout.write(f"rolled up {report.days} days, {start} to {end}")
            for line in report.lines():
                self.stdout.write(f"  {line}")
