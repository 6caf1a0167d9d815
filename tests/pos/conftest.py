import pytest


@pytest.fixture(autouse=True)
def every_test_with_fresh_throttles(fresh_throttles):
    """The throttle tests of test_api.py restore the class's rates inside their override_settings block,
    so the overridden (tiny) rates would outlive them: every counter test starts from the settings' rates
    (tests/conftest.py, fresh_throttles), whether it uses `api` or not."""
    yield
