"""`manage.py bootstrap` (issue 30, "Operable in production"): on an empty database it leaves a portal
that enrols and sells, passes the demo-password check, is a no-op the second time, and writes nothing
on bad input."""

import re
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings
from rest_framework.test import APIClient

from membership import bootstrap
from membership.management.commands import bootstrap as command
from membership.models import AuditLog, ProgramSettings, Role, Store, Tier, User
from portal import checks

from .test_settings import STRONG_SECRET, clean_environ

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "Tr0ub4dor-and-3-horses"  # nosec B105
FLAGS = {
    "store_code": "S001",
    "store_name": "旗舰店",
    "admin_username": "ops",
    "admin_email": "ops@example.com",
    "interactive": False,
}


def run(**options) -> str:
    out = StringIO()
    call_command("bootstrap", stdout=out, stderr=StringIO(), **{**FLAGS, **options})
    return out.getvalue()


def rows() -> dict:
    """Everything bootstrap may write, as values."""
    return {
        "stores": list(Store.objects.order_by("code").values("code", "name", "parent__code", "is_active")),
        "users": list(User.objects.order_by("username").values("username", "password", "role", "is_superuser")),
        "tiers": list(Tier.objects.order_by("rank").values()),
        "settings": list(ProgramSettings.objects.values()),
        "audit": AuditLog.objects.count(),
    }


@pytest.fixture
def password(monkeypatch):
    monkeypatch.setenv(command.ENV_VARIABLE, PASSWORD)
    return PASSWORD


def test_an_empty_database_enrols_and_sells_after_bootstrap(client, password):
    out = run()
    for line in [
        "Created HQ store HQ 总部.",
        "Created store S001 旗舰店 under HQ.",
        "Created superuser ops (HQ operator).",
        "Created tier MEMBER 普通会员 (rank 1, reached with 0 growth).",
        "Created program settings (defaults).",
        "Sign in to admin at http://127.0.0.1:8000/admin/ as ops.",
    ]:
        assert line in out
    assert password not in out
    hq = User.objects.get(username="ops")
    assert hq.is_superuser and hq.is_staff and hq.role == Role.HQ and hq.store is None
    assert Store.objects.get(code="S001").parent == Store.objects.get(code="HQ", parent=None)

    # the HQ operator signs in to admin with the password given and adds a clerk at the first store
    assert client.login(username="ops", password=password)
    added = client.post(
        "/admin/membership/user/add/",
        {
            "username": "clerk-a",
            "store": Store.objects.get(code="S001").pk,
            "role": Role.CLERK,
            "usable_password": "true",
            "password1": "Counter-clerk-2026!",
            "password2": "Counter-clerk-2026!",
        },
    )
    assert added.status_code == 302, added.content.decode()[:2000]
    assert User.objects.get(username="clerk-a").store.code == "S001"

    # the clerk's till signs in, enrols a member at the base tier and records a sale that earns
    till = APIClient()
    token = till.post("/api/v1/auth/token/", {"username": "clerk-a", "password": "Counter-clerk-2026!"}, format="json")
    assert token.status_code == 200, token.json()
    till.credentials(HTTP_AUTHORIZATION=f"Token {token.json()['token']}")
    enrolled = till.post("/api/v1/members/", {"phone": "13800138000", "name": "张三"}, format="json")
    assert enrolled.status_code == 201, enrolled.json()
    assert enrolled.json()["tier"]["code"] == "MEMBER" and enrolled.json()["home_store"] == "S001"
    assert enrolled.json()["next_tier"] is None
    member_no = enrolled.json()["member_no"]
    sale = till.post("/api/v1/sales/", {"receipt_no": "R1", "member": member_no, "amount": "300.00"}, format="json")
    assert sale.status_code == 201, sale.json()
    assert sale.json()["points_earned"] == 300 and sale.json()["cash_due"] == "300.00"


def test_production_check_finds_no_demo_password_after_bootstrap(password):
    run()
    with override_settings(PRODUCTION=True):
        assert checks.check_demo_passwords() == []


def test_a_second_run_changes_nothing_and_says_so(password, monkeypatch):
    run()
    before = rows()
    monkeypatch.setenv(command.ENV_VARIABLE, "another-Long-password-42")
    out = run(store_name="another name", hq_name="another HQ")
    assert rows() == before
    assert "Already there: superuser ops (password unchanged)." in out
    assert "Already there: store S001 旗舰店 under HQ." in out
    assert "Nothing to do: the portal is already set up." in out and "Created" not in out
    assert User.objects.get(username="ops").check_password(password)
    # without any flag, at a terminal or not, nothing is asked
    monkeypatch.setattr(command, "attached_to_terminal", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt: pytest.fail(f"asked {prompt!r}"))
    bare = StringIO()
    call_command("bootstrap", stdout=bare)
    assert bare.getvalue().startswith("Nothing to do: the portal is already set up (root store HQ;")
    assert rows() == before


def test_tiers_already_configured_are_kept(password):
    from membership.demo import seed_program

    seed_program()
    tiers = list(Tier.objects.values())
    out = run()
    assert list(Tier.objects.values()) == tiers
    assert "Already there: tiers: NORMAL, SILVER, GOLD, DIAMOND." in out
    assert "Already there: program settings." in out


@pytest.mark.parametrize(
    "options, option, message",
    [
        ({"store_code": "S" * 21}, "--store-code", "at most 20 characters"),
        ({"store_code": "HQ"}, "--store-code", "not the HQ's"),
        ({"store_name": "   "}, "--store-name", "Missing --store-name"),
        ({"hq_name": "总" * 101}, "--hq-name", "at most 100 characters"),
        ({"admin_username": "ops team!"}, "--admin-username", "Enter a valid username"),
        ({"admin_email": "not-an-address"}, "--admin-email", "valid email address"),
        ({"password": "admin-demo"}, "$BOOTSTRAP_ADMIN_PASSWORD", "published demo password"),
        ({"password": "12345678"}, "$BOOTSTRAP_ADMIN_PASSWORD", "too common"),
        ({"password": "short1!"}, "$BOOTSTRAP_ADMIN_PASSWORD", "too short"),
        ({"password": "ops@example.com"}, "$BOOTSTRAP_ADMIN_PASSWORD", "too similar"),
    ],
)
def test_bad_input_is_named_and_writes_nothing(options, option, message, monkeypatch):
    monkeypatch.setenv(command.ENV_VARIABLE, options.pop("password", PASSWORD))
    before = rows()
    with pytest.raises(CommandError) as refused:
        run(**options)
    assert message in str(refused.value) and (option in str(refused.value) or message.startswith("Missing"))
    assert rows() == before


def test_all_problems_are_listed_at_once(monkeypatch):
    monkeypatch.setenv(command.ENV_VARIABLE, "password")
    with pytest.raises(CommandError) as refused:
        run(store_code="S" * 21, admin_email="nope")
    text = str(refused.value)
    assert text.startswith("Nothing was written:")
    assert (
        "--store-code:" in text
        and "--admin-email:" in text
        and "$BOOTSTRAP_ADMIN_PASSWORD: This password is too common." in text
    )


def test_a_failure_while_writing_rolls_everything_back(password, monkeypatch):
    def broken(report):
        raise RuntimeError("disk full")

    monkeypatch.setattr(bootstrap, "_ensure_tiers", broken)
    with pytest.raises(RuntimeError):
        run()
    assert rows() == {"stores": [], "users": [], "tiers": [], "settings": [], "audit": 0}


def test_without_a_terminal_missing_values_and_password_are_named(monkeypatch):
    monkeypatch.delenv(command.ENV_VARIABLE, raising=False)
    with pytest.raises(CommandError, match="Missing --store-code, --store-name, --admin-username"):
        call_command("bootstrap", interactive=False, stdout=StringIO())
    with pytest.raises(CommandError, match=command.ENV_VARIABLE):
        run()
    assert Store.objects.count() == 0 and User.objects.count() == 0


def test_password_from_a_file(tmp_path, monkeypatch):
    monkeypatch.delenv(command.ENV_VARIABLE, raising=False)
    secret = tmp_path / "pw"
    secret.write_text(PASSWORD + "\n")
    run(admin_password_file=str(secret))
    assert User.objects.get(username="ops").check_password(PASSWORD)
    with pytest.raises(CommandError, match="cannot read"):
        run(admin_username="other", admin_password_file=str(tmp_path / "missing"))


def test_existing_users_and_stores_that_do_not_fit_are_refused(password):
    User.objects.create_user(username="ops", password="x", role=Role.HQ)  # not a superuser
    with pytest.raises(CommandError, match="ops exists and is not an active superuser"):
        run()
    other = Store.objects.create(code="ROOT", name="Old HQ")
    Store.objects.create(code="S001", name="Old", parent=other)
    with pytest.raises(CommandError) as refused:
        run(admin_username="boss")
    assert "already has its root ROOT" in str(refused.value) and "exists, under ROOT, not under HQ" in str(
        refused.value
    )
    assert Store.objects.count() == 2 and not User.objects.filter(username="boss").exists()


def test_an_existing_demo_admin_is_kept_with_a_warning(password):
    from membership.demo import seed_stores_and_staff

    seed_stores_and_staff()
    out = run(admin_username="admin")
    assert "Warning: admin still has its demo password" in out
    assert User.objects.get(username="admin").check_password("admin-demo")


def test_at_a_terminal_it_asks_and_never_echoes_the_password(monkeypatch):
    monkeypatch.delenv(command.ENV_VARIABLE, raising=False)
    monkeypatch.setattr(command, "attached_to_terminal", lambda: True)
    answers = iter(["", "", "S009", "", "社区店", "boss", ""])  # a required value left empty is asked again
    asked = []
    monkeypatch.setattr("builtins.input", lambda prompt: asked.append(prompt) or next(answers))
    passwords = iter(["12345678", "12345678", PASSWORD, "typo", PASSWORD, PASSWORD])
    monkeypatch.setattr(command.getpass, "getpass", lambda prompt: next(passwords))
    out, err = StringIO(), StringIO()
    call_command("bootstrap", stdout=out, stderr=err)
    assert asked[:2] == ["HQ store code [HQ]: ", "HQ store name [总部]: "]
    assert asked.count("First store's name: ") == 2
    assert "too common" in err.getvalue() and "The two passwords differ" in err.getvalue()
    assert "Created store S009 社区店 under HQ." in out.getvalue()
    assert PASSWORD not in out.getvalue() + err.getvalue()
    assert User.objects.get(username="boss").check_password(PASSWORD)


def test_an_operator_runs_it_with_debug_off(tmp_path):
    """As docs/deploy.md says, with DEBUG=0: migrate, bootstrap, bootstrap again, check --deploy (on
    SQLite here, which check --deploy refuses for its own reason, portal.E002: never the demo passwords)."""
    env = {
        **clean_environ(),
        "DEBUG": "0",
        "SECRET_KEY": STRONG_SECRET,
        "ALLOWED_HOSTS": "member.example.com",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'portal.sqlite3'}",
        "PORTAL_VAR_DIR": str(tmp_path),
        command.ENV_VARIABLE: PASSWORD,
    }

    def manage(*args):
        return subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
        )

    assert manage("migrate", "--no-input").returncode == 0
    flags = ["--store-code", "S001", "--store-name", "旗舰店", "--admin-username", "ops", "--no-input"]
    first = manage("bootstrap", *flags)
    assert first.returncode == 0, first.stderr
    assert "Created superuser ops" in first.stdout and "https://member.example.com/admin/" in first.stdout
    second = manage("bootstrap", *flags)
    assert second.returncode == 0 and "Nothing to do" in second.stdout and "Created" not in second.stdout
    deploy = manage("check", "--deploy", "--fail-level", "ERROR")
    assert "portal.E002" in deploy.stderr and "portal.E001" not in deploy.stdout + deploy.stderr


def test_readme_and_deploy_guide_say_how_to_run_it():
    readme = (ROOT / "README.md").read_text()
    assert "## First run in production" in readme and "python manage.py bootstrap" in readme
    guide = (ROOT / "docs/deploy.md").read_text()
    release = guide[guide.index("## A release, in order") :]
    assert release.index("**Migrate once**") < release.index("manage.py bootstrap") < release.index("**Web machines**")
    step = release[release.index("**First release only: bootstrap**") : release.index("**Web machines**")]
    parser = command.Command().create_parser("manage.py", "bootstrap")
    flags = {flag for action in parser._actions for flag in action.option_strings}
    named = set(re.findall(r"(--[a-z][a-z-]+)", step)) - {"--rm"}  # docker compose run --rm
    assert named and named <= flags, named - flags
    assert command.ENV_VARIABLE in step and command.ENV_VARIABLE in readme
