"""Load the demo program of docs/demo-program.md into the database.

Each app contributes its part in `<app>/demo.py` with a `seed(*, out)` function, in the
order below; every part is idempotent, so running the command twice changes nothing."""

from importlib import import_module

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from portal.celery import app as celery_app

DEMO_APPS = ["membership", "campaigns", "pos", "analytics"]  # in this order


class Command(BaseCommand):
    help = "Load the demo program (stores, accounts, tiers, members, campaigns). Safe to run twice."

    def handle(self, *args, **options):
        if settings.PRODUCTION:
            raise CommandError("seed_demo creates accounts with published passwords: refused with DEBUG=0.")
        # The events of a year of demo history (enrolments, upgrades, purchases) are handled here and
        # now, so the demo starts with its welcome coupons and rewards and the worker starts idle.
        eager = celery_app.conf.task_always_eager
        celery_app.conf.task_always_eager = True
        try:
            self._seed()
        finally:
            celery_app.conf.task_always_eager = eager
        self.stdout.write(self.style.SUCCESS("Demo program loaded."))

    def _seed(self):
        for label in DEMO_APPS:
            try:
                module = import_module(f"{label}.demo")
            except ModuleNotFoundError as exc:
                if exc.name != f"{label}.demo":
                    raise
                continue
            with transaction.atomic():
                module.seed(out=self.stdout)
