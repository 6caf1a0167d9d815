"""`python manage.py check_config [--strict]`: every inconsistent or risky setting of the programme,
with the object and what to do (campaigns.services.config_check); nothing printed when all is well.
--strict exits 1 when any is an error (for a deploy pipeline)."""

from django.core.management.base import BaseCommand, CommandError

from campaigns.services import config_check


class Command(BaseCommand):
    help = "List settings that fail their validation, failed scenes and risky settings, each with what to do."

    def add_arguments(self, parser):
        parser.add_argument("--strict", action="store_true", help="exit 1 when any problem is an error")

    def handle(self, *args, **options):
        found = config_check.problems()
        for problem in found:
            style = self.style.ERROR if problem.severity == config_check.ERROR else self.style.WARNING
            self.stdout.write(style(str(problem)))
        errors = config_check.errors(found)
        if options["strict"] and errors:
            raise CommandError(f"{errors} configuration error(s)")
