"""The test suite's settings (pytest.ini): the portal's, with password hashing made fast. Production
hashing is deliberately slow; tests need not be (a test of the hashers sets its own)."""

from portal.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
