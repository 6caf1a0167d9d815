import pytest


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
