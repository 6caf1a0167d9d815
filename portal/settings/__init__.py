"""Settings for the store-membership portal, read from the environment (cookiecutter-django style),
split by concern: base (apps, middleware, templates, sign-in, language, static files, logs, operations),
database, broker (Celery and the outbox), api (the POS REST API, throttles and their cache), messages
(e-mail, SMS, WeChat) and, with DEBUG=0, production (refusals and HTTPS). `portal.settings.test` adds
what the test suite changes. The defaults are the embedded demo: SQLite in WAL mode and kombu's
filesystem broker, so `make run` works on a fresh machine with nothing but Python. Production refuses
to start with the default secret; see portal/checks.py for the demo-password refusal."""

from .api import *  # noqa: F403
from .base import *  # noqa: F403
from .broker import *  # noqa: F403
from .database import *  # noqa: F403
from .messages import *  # noqa: F403

if PRODUCTION:  # noqa: F405
    from .production import *  # noqa: F403
