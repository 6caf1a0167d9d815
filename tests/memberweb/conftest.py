import pytest


@pytest.fixture
def campaigns_demo(program):
    """The demo program's coupons, scenes, mall and rules (demo-program.md)."""
    from campaigns.demo import seed

    seed()
