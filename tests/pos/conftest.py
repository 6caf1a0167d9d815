import pytest
from rest_framework.test import APIClient


@pytest.fixture
def api(demo_staff, program):
    """api("clerk1") → an APIClient authenticated with that demo account's token."""
    from rest_framework.authtoken.models import Token

    def client_for(username=None):
        client = APIClient()
        if username:
            token, _ = Token.objects.get_or_create(user=demo_staff[username])
            client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return client_for


@pytest.fixture(autouse=True)
def fresh_throttles():
    from django.core.cache import cache
    from rest_framework.settings import api_settings
    from rest_framework.throttling import SimpleRateThrottle

    # the throttle tests of test_api.py restore the class's rates inside their override_settings block,
    # so the overridden (tiny) rates would outlive them: every test starts from the settings' rates
    SimpleRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES
    cache.clear()
    yield
    cache.clear()
