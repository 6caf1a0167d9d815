"""`python manage.py run_scenes [--date YYYY-MM-DD] [--scene ID|NAME] [--dry-run]`: what the daily
schedule runs, for a date (an operator re-runs a missed day with it). Grants are keyed by occurrence,
so a re-run of a day that did run grants nothing twice."""

from datetime import date, datetime, time

from django.core.management.base import BaseCommand, CommandError

from campaigns.models import Scene
from campaigns.services import scenes
from core.clock import tz


class Command(BaseCommand):
    help = "Run the daily campaign scenes for a date (default today), all of them or one; --dry-run only counts."

    def add_arguments(self, parser):
        parser.add_argument("--date", help="the day to run, YYYY-MM-DD (default: today)")
        parser.add_argument("--scene", help="one scene, by id or name (default: every active daily scene)")
        parser.add_argument("--dry-run", action="store_true", help="count who would be granted, grant nothing")

    def handle(self, *args, **options):
        scene, dry_run = options["scene"], options["dry_run"]
        try:
            on = _date(options["date"])
        except ValueError as exc:
            raise CommandError(f"--date: {exc}") from exc
        at = datetime.combine(on, time(8, 30), tzinfo=tz())  # the schedule's time of day
        chosen = Scene.objects.filter(is_active=True, kind__in=scenes.DAILY_KINDS).order_by("pk")
        if scene:
            chosen = chosen.filter(pk=int(scene)) if scene.isdigit() else chosen.filter(name=scene)
            if not chosen.exists():
                raise CommandError(f"--scene: no active daily scene {scene!r}")
        total = 0
        for s in chosen.select_related("package", "package_b"):
            result = scenes.run_scene(s, on=on, at=at, dry_run=dry_run)
            total += result.granted
            verb = "would grant" if dry_run else "granted"
            self.stdout.write(f"{s.pk:>4} {s.name}: {verb} {result.granted} ({result.occurrence or 'no occurrence'})")
        self.stdout.write(f"{on.isoformat()}: {'would grant' if dry_run else 'granted'} {total} in all")


def _date(value) -> date:
    return date.fromisoformat(value) if value else datetime.now(tz()).date()
