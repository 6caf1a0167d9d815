"""First run of a production database (`manage.py bootstrap`, issue 30): the HQ store, the first
store under it, an HQ superuser, a one-tier program when there are no tiers, and the program
settings row, so a fresh portal can enrol and sell.

Each step creates its object or finds it already there, so a second run changes nothing. Everything
is checked before anything is written, and all of it is written in one transaction: bad input
writes nothing. The rules are the models' own (`full_clean`) and Django's password validators; the
published demo passwords (membership.demo) are refused on top."""

from dataclasses import dataclass, field, replace

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import translation
from django.utils.translation import pgettext_lazy

from . import demo
from .models import ProgramSettings, Role, Store, Tier, User
from .services.common import audit

DEFAULT_HQ_CODE = "HQ"
DEFAULT_HQ_NAME = pgettext_lazy("store name", "Headquarters")
BASE_TIER_CODE = "MEMBER"
BASE_TIER_NAME = pgettext_lazy("tier name", "Member")
BASE_TIER_BENEFITS = pgettext_lazy("tier benefits", "Points on every purchase")
DEMO_PASSWORDS = frozenset(demo.STAFF_PASSWORDS.values()) | {demo.KNOWN_MEMBER["password"]}
MSG_PUBLISHED = "This is a published demo password (docs/demo-program.md): choose your own."


class SetupError(Exception):
    """Bad input: (option, message) pairs, the option being the command's flag for the value ("password"
    for the password, which has several sources)."""

    def __init__(self, errors: list[tuple[str, str]]):
        super().__init__("; ".join(f"{option}: {message}" for option, message in errors))
        self.errors = errors


@dataclass(frozen=True)
class FirstRun:
    store_code: str
    store_name: str
    admin_username: str
    admin_email: str = ""
    admin_password: str | None = None  # needed only when the superuser does not exist yet
    hq_code: str = DEFAULT_HQ_CODE
    hq_name: str = ""  # empty: DEFAULT_HQ_NAME in the site's language


@dataclass
class Report:
    created: list[str] = field(default_factory=list)
    found: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def is_set_up() -> bool:
    """A superuser, a store under a root, a tier and the settings row: what enrolling and selling need."""
    return (
        User.objects.filter(is_superuser=True, is_active=True).exists()
        and Store.objects.filter(parent__isnull=False, is_active=True).exists()
        and Tier.objects.exists()
        and ProgramSettings.objects.filter(pk=1).exists()
    )


def summary() -> str:
    """What is there, in one line (for "nothing to do")."""
    roots = ", ".join(Store.objects.filter(parent__isnull=True).values_list("code", flat=True)) or "none"
    admins = ", ".join(User.objects.filter(is_superuser=True, is_active=True).values_list("username", flat=True))
    return (
        f"root store {roots}; {Store.objects.filter(parent__isnull=False).count()} store(s) under it; "
        f"superuser(s) {admins or 'none'}; {Tier.objects.count()} tier(s)"
    )


def user_exists(username: str) -> bool:
    return User.objects.filter(username=username).exists()


def password_problems(password: str, *, username: str, email: str = "") -> list[str]:
    """Why this password will not do for this new superuser (empty: it will): the demo passwords,
    then AUTH_PASSWORD_VALIDATORS (length, common passwords, too like the username)."""
    problems = [MSG_PUBLISHED] if password in DEMO_PASSWORDS else []
    try:
        validate_password(password, user=User(username=username, email=email, role=Role.HQ))
    except ValidationError as exc:
        problems.extend(exc.messages)
    return problems


def _clean(instance, options: dict[str, str], exclude=()) -> list[tuple[str, str]]:
    """The model's own checks (lengths, blanks, formats, uniqueness), each named by its option."""
    try:
        instance.full_clean(exclude=list(exclude), validate_constraints=False)
    except ValidationError as exc:
        return [
            (options.get(name, name), message) for name, messages in exc.message_dict.items() for message in messages
        ]
    return []


def _check_stores(run: FirstRun) -> list[tuple[str, str]]:
    errors = []
    hq = Store.objects.filter(code=run.hq_code).select_related("parent").first()
    other_root = Store.objects.filter(parent__isnull=True).exclude(code=run.hq_code).order_by("code").first()
    if hq is None:
        errors += _clean(
            Store(code=run.hq_code, name=run.hq_name), {"code": "--hq-code", "name": "--hq-name"}, ["parent"]
        )
    elif hq.parent_id:
        errors.append(("--hq-code", f"store {hq.code} is under {hq.parent.code}: HQ is the root of the store tree."))
    if hq is None and other_root is not None:
        errors.append(
            ("--hq-code", f"the store tree already has its root {other_root.code}: give --hq-code {other_root.code}.")
        )
    if run.store_code == run.hq_code:
        errors.append(("--store-code", "the first store needs a code of its own, not the HQ's."))
        return errors
    store = Store.objects.filter(code=run.store_code).select_related("parent").first()
    if store is None:
        errors += _clean(
            Store(code=run.store_code, name=run.store_name),
            {"code": "--store-code", "name": "--store-name"},
            ["parent"],
        )
    elif store.parent is None or store.parent.code != run.hq_code:
        where = f"under {store.parent.code}" if store.parent else "a root"
        errors.append(("--store-code", f"store {store.code} exists, {where}, not under {run.hq_code}."))
    return errors


def _check_admin(run: FirstRun) -> list[tuple[str, str]]:
    user = User.objects.filter(username=run.admin_username).first()
    if user is not None:
        if user.is_superuser and user.is_active:
            return []
        return [
            (
                "--admin-username",
                f"{user.username} exists and is not an active superuser: choose another username.",
            )
        ]
    new = User(username=run.admin_username, email=run.admin_email, role=Role.HQ, is_superuser=True)
    errors = _clean(new, {"username": "--admin-username", "email": "--admin-email"}, ["password"])
    if not run.admin_password:
        errors.append(("password", "the new superuser needs a password."))
    else:
        problems = password_problems(run.admin_password, username=run.admin_username, email=run.admin_email)
        errors += [("password", problem) for problem in problems]
    return errors


def check(run: FirstRun) -> list[tuple[str, str]]:
    """Everything that is wrong with this run, before anything is written."""
    return _check_stores(run) + _check_admin(run)


def _ensure_stores(run: FirstRun, report: Report) -> None:
    hq, created = Store.objects.get_or_create(code=run.hq_code, defaults={"name": run.hq_name})
    (report.created if created else report.found).append(f"HQ store {hq.code} {hq.name}")
    store, created = Store.objects.get_or_create(code=run.store_code, defaults={"name": run.store_name, "parent": hq})
    (report.created if created else report.found).append(f"store {store.code} {store.name} under {hq.code}")


def _ensure_admin(run: FirstRun, report: Report) -> None:
    user = User.objects.filter(username=run.admin_username).first()
    if user is not None:
        report.found.append(f"superuser {user.username} (password unchanged)")
        if demo.staff_with_demo_password([user.username]):
            report.warnings.append(
                f"{user.username} still has its demo password: change it (manage.py changepassword "
                f"{user.username}), or check --deploy refuses to start."
            )
        return
    User.objects.create_superuser(
        username=run.admin_username, email=run.admin_email, password=run.admin_password, role=Role.HQ
    )
    report.created.append(f"superuser {run.admin_username} (HQ operator)")


def _ensure_tiers(report: Report) -> None:
    """One base tier, reached with 0 growth, only on a program with no tiers at all."""
    if Tier.objects.exists():
        report.found.append("tiers: " + ", ".join(Tier.objects.order_by("rank").values_list("code", flat=True)))
        return
    tier = Tier(
        code=BASE_TIER_CODE,
        name=in_site_language(BASE_TIER_NAME),
        rank=1,
        reach_growth=0,
        keep_growth=0,
        benefits=in_site_language(BASE_TIER_BENEFITS),
    )
    tier.full_clean()
    tier.save()
    report.created.append(f"tier {tier.code} {tier.name} (rank 1, reached with 0 growth)")


def _ensure_settings(report: Report) -> None:
    _row, created = ProgramSettings.objects.get_or_create(pk=1)
    (report.created if created else report.found).append("program settings" + (" (defaults)" if created else ""))


def in_site_language(text) -> str:
    with translation.override(settings.LANGUAGE_CODE):
        return str(text)


def _normalised(first: FirstRun) -> FirstRun:
    return replace(
        first,
        hq_code=(first.hq_code or "").strip() or DEFAULT_HQ_CODE,
        hq_name=(first.hq_name or "").strip() or in_site_language(DEFAULT_HQ_NAME),
        store_code=first.store_code.strip(),
        store_name=first.store_name.strip(),
        admin_username=first.admin_username.strip(),
        admin_email=(first.admin_email or "").strip(),
    )


def run(first: FirstRun) -> Report:
    """Set the database up for `first`, or find it set up; SetupError (writing nothing) on bad input.
    Names the portal gives itself (HQ's by default, the base tier's) are in the site's language."""
    first = _normalised(first)
    report = Report()
    with transaction.atomic():
        if errors := check(first):
            raise SetupError(errors)
        _ensure_stores(first, report)
        _ensure_admin(first, report)
        _ensure_tiers(report)
        _ensure_settings(report)
        if report.created:
            audit("setup.bootstrap", operator=User.objects.get(username=first.admin_username), created=report.created)
    return report
