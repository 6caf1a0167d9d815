"""Shared fixtures. State is set up by calling the same code the product uses (seed and
service functions), not by raw creates."""

import pytest
from django.db import connection


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
