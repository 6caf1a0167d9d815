"""`manage.py bootstrap`: the first run of a production database (membership.bootstrap). Asks for what
it needs when attached to a terminal; scripts give flags, and the password in a file or the
environment, never on the command line. Safe to run twice."""

import getpass
import os
import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, no_translations

from membership import bootstrap

ENV_VARIABLE = "BOOTSTRAP_ADMIN_PASSWORD"  # where a script puts the new superuser's password
ASKED = [
    # option, prompt, default
    ("hq_code", "HQ store code", bootstrap.DEFAULT_HQ_CODE),
    ("hq_name", "HQ store name", None),  # None: the portal's own HQ name, in the site's language
    ("store_code", "First store's code (e.g. S001)", ""),
    ("store_name", "First store's name", ""),
    ("admin_username", "HQ superuser's username", ""),
    ("admin_email", "HQ superuser's e-mail (optional)", ""),
]
REQUIRED = ["store_code", "store_name", "admin_username"]


def attached_to_terminal() -> bool:
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


class Command(BaseCommand):
    source = "password"  # where the new superuser's password came from, to name it in an error
    help = (
        "First run in production: the HQ store, the first store under it, an HQ superuser, a one-tier "
        "program when there are no tiers, and the program settings. One transaction; safe to run twice. "
        f"Password: --admin-password-file, ${ENV_VARIABLE}, or asked at a terminal."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--hq-code", default=None, help=f"Code of the HQ store (default {bootstrap.DEFAULT_HQ_CODE})."
        )
        parser.add_argument(
            "--hq-name", default=None, help="Name of the HQ store (default: 总部, in the site's language)."
        )
        parser.add_argument("--store-code", default=None, help="Code of the first store, e.g. S001.")
        parser.add_argument("--store-name", default=None, help="Name of the first store.")
        parser.add_argument("--admin-username", default=None, help="Username of the HQ superuser.")
        parser.add_argument("--admin-email", default=None, help="E-mail of the HQ superuser (optional).")
        parser.add_argument(
            "--admin-password-file",
            default=None,
            help=f"File holding the new superuser's password (else ${ENV_VARIABLE}, else asked).",
        )
        parser.add_argument(
            "--no-input", action="store_false", dest="interactive", help="Never ask: fail on a missing value."
        )

    @no_translations
    def handle(self, *args, **options):
        given = {option: options[option] for option, _prompt, _default in ASKED}
        interactive = options["interactive"] and attached_to_terminal()
        if not any(given[option] for option in REQUIRED) and bootstrap.is_set_up():
            self.stdout.write(f"Nothing to do: the portal is already set up ({bootstrap.summary()}).")
            return
        values = self._values(given, interactive)
        password = self._password(options["admin_password_file"], values, interactive)
        try:
            report = bootstrap.run(bootstrap.FirstRun(admin_password=password, **values))
        except bootstrap.SetupError as exc:
            lines = "\n".join(
                f"  {self.source if option == 'password' else option}: {text}" for option, text in exc.errors
            )
            raise CommandError(f"Nothing was written:\n{lines}") from None
        self._report(report, values)

    def _values(self, given: dict, interactive: bool) -> dict:
        values = {}
        for option, prompt, default in ASKED:
            value = given[option]
            if value is None and interactive:
                shown = bootstrap.in_site_language(bootstrap.DEFAULT_HQ_NAME) if default is None else default
                value = self._ask(prompt, shown, required=option in REQUIRED)
            values[option] = (value or "").strip()
        missing = [option for option in REQUIRED if not values[option]]
        if missing:
            flags = ", ".join("--" + option.replace("_", "-") for option in missing)
            raise CommandError(f"Missing {flags} (run it at a terminal to be asked). Nothing was written.")
        return values

    def _ask(self, prompt: str, default: str, *, required: bool) -> str:
        shown = f"{prompt} [{default}]: " if default else f"{prompt}: "
        while True:
            answer = input(shown).strip() or default
            if answer or not required:
                return answer
            self.stderr.write("A value is needed.")

    def _password(self, path, values: dict, interactive: bool) -> str | None:
        """The new superuser's password: the file's first line, the environment, or asked twice (not
        shown) until it passes the validators. None when the superuser exists already."""
        if bootstrap.user_exists(values["admin_username"]):
            return None
        self.source = "--admin-password-file" if path else f"${ENV_VARIABLE}"
        if path:
            try:
                with open(path, encoding="utf-8") as f:
                    return f.readline().rstrip("\r\n")
            except OSError as exc:
                raise CommandError(f"--admin-password-file: cannot read {path}: {exc.strerror}.") from None
        if os.environ.get(ENV_VARIABLE):
            return os.environ[ENV_VARIABLE]
        if not interactive:
            raise CommandError(
                f"The new superuser needs a password: --admin-password-file FILE or ${ENV_VARIABLE}. "
                "Nothing was written."
            )
        self.source = "password"
        while True:
            password = getpass.getpass("Password (not shown): ")
            if password != getpass.getpass("Password again: "):
                self.stderr.write("The two passwords differ: again.")
                continue
            problems = bootstrap.password_problems(
                password, username=values["admin_username"], email=values["admin_email"]
            )
            if not problems:
                return password
            self.stderr.write("\n".join(problems))

    def _report(self, report: bootstrap.Report, values: dict) -> None:
        for line in report.created:
            self.stdout.write(self.style.SUCCESS(f"Created {line}."))
        for line in report.found:
            self.stdout.write(f"Already there: {line}.")
        for line in report.warnings:
            self.stdout.write(self.style.WARNING(f"Warning: {line}"))
        if not report.created:
            self.stdout.write("Nothing to do: the portal is already set up.")
            return
        self.stdout.write(
            "\nNext steps:\n"
            f"  1. Sign in to admin at {admin_url()} as {values['admin_username']}.\n"
            "  2. Staff: Staff users → Add: each clerk and store manager with role and store "
            f"({values['store_code']}); tills sign in with those accounts (POST /api/v1/auth/token/).\n"
            f"  3. Tiers: {bootstrap.BASE_TIER_CODE} is the one tier if bootstrap created it: rename it, add higher "
            "tiers (growth to reach and to keep); Program settings: points rate, expiry, reviews.\n"
            "  4. More stores and regions: Stores → Add (parent: HQ or a region).\n"
            "  5. Before starting gunicorn: python manage.py check --deploy --fail-level ERROR"
        )


def admin_url() -> str:
    hosts = [h for h in settings.ALLOWED_HOSTS if h and not h.startswith(".") and h != "*"]
    if settings.PRODUCTION and hosts:
        return f"https://{hosts[0]}/admin/"
    return "http://127.0.0.1:8000/admin/"
