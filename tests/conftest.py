"""Shared fixtures. State is set up by calling the same code the product uses (seed and
service functions), not by raw creates."""

import pytest
from django.db import connection


@pytest.fixture(autouse=True, scope="session")
def celery_runs_tasks_in_process():
    """Tasks queued after commit run at once, in the test's process, and raise their errors."""
    from portal.celery import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True


@pytest.fixture(autouse=True)
def fresh_process_caches():
    """Each test rolls its database back: the per-process copies of settings must not outlive it."""
    from campaigns.services import scenes
    from membership import config
    from pos import authentication

    scenes.clear_cache()
    config.clear()
    authentication.forget()
    yield
    scenes.clear_cache()
    config.clear()
    authentication.forget()


@pytest.fixture
def demo_staff(db):
    """Stores HQ/S001/S002 and the four demo accounts of demo-program.md."""
    from membership.demo import seed_stores_and_staff
    from membership.models import User

    seed_stores_and_staff()
    return {u.username: u for u in User.objects.select_related("store")}


@pytest.fixture
def signed_in(client, demo_staff):
    """signed_in("clerk1") → a test client signed in as that demo account."""

    def sign_in(username):
        client.force_login(demo_staff[username])
        return client

    return sign_in


@pytest.fixture
def on_postgres():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: set DATABASE_URL (CI does)")
    return True


@pytest.fixture
def program(demo_staff):
    """The demo program's tiers, settings and top-up plans (demo-program.md), with its staff, but for
    the instant tier (one ¥999 sale → GOLD): most tests reach SILVER with one ¥1000 sale and check the
    growth rules on their own. Tests of the instant tier use `demo_program`."""
    from membership.demo import seed_program
    from membership.models import ProgramSettings, Tier

    seed_program()
    Tier.objects.update(instant_sale_amount=None)
    return ProgramSettings.load()


@pytest.fixture
def demo_program(demo_staff):
    """The demo program exactly as seed_demo loads it (demo-program.md), the instant tier included."""
    from membership.demo import seed_program
    from membership.models import ProgramSettings

    seed_program()
    return ProgramSettings.load()


@pytest.fixture
def enrol(program, demo_staff):
    """enrol(phone=..., **kw) → a member enrolled at the counter of S001 by clerk1."""
    from membership.models import Store
    from membership.services import enrolment

    store = Store.objects.get(code="S001")
    counter = {"n": 0}

    def make(phone=None, **kwargs):
        counter["n"] += 1
        kwargs.setdefault("store", store)
        kwargs.setdefault("acting_user", demo_staff["clerk1"])
        return enrolment.enrol(phone=phone or f"1370000{counter['n']:04d}", **kwargs)

    return make


@pytest.fixture
def buy(demo_staff):
    """buy(member, amount, **kw) → PurchaseResult of a sale at S001 by clerk1."""
    from decimal import Decimal

    from membership.models import Store
    from membership.services import purchases

    store = Store.objects.get(code="S001")
    counter = {"n": 0}

    def make(member, amount, **kwargs):
        counter["n"] += 1
        kwargs.setdefault("reference", f"R{counter['n']:05d}")
        kwargs.setdefault("idempotency_key", f"test-sale-{member.pk}-{counter['n']}")
        kwargs.setdefault("acting_user", demo_staff["clerk1"])
        return purchases.record_purchase(member=member, store=store, amount=Decimal(str(amount)), **kwargs)

    return make


@pytest.fixture
def fresh_throttles():
    """The API's throttles from the settings' rates with nothing counted: the counts live in the cache,
    which outlives a test, and the demo accounts' ids repeat from test to test (an earlier test's
    requests made a later one's 429)."""
    from django.core.cache import cache
    from rest_framework.settings import api_settings
    from rest_framework.throttling import SimpleRateThrottle

    SimpleRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api(demo_staff, program, fresh_throttles):
    """api("clerk1") → an APIClient authenticated with that demo account's token."""
    from rest_framework.authtoken.models import Token

    def client_for(username=None):
        from rest_framework.test import APIClient

        client = APIClient()
        if username:
            token, _ = Token.objects.get_or_create(user=demo_staff[username])
            client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return client_for
