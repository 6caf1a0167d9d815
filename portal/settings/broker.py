"""Celery and the transactional outbox: the broker (kombu's filesystem transport by default, Redis in
production), task limits and delivery, beat's schedules in the database."""

from .base import TIME_ZONE, VAR_DIR, env

# --- Celery ---------------------------------------------------------------------------
# Default: kombu's filesystem transport, so a real worker and beat run with no server.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    BROKER_DIR = VAR_DIR / "broker"
    BROKER_DIR.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR),
        "data_folder_out": str(BROKER_DIR),
        "store_processed": False,
        "control_folder": str(BROKER_DIR / "control"),
    }
else:
    # Redis gives an unacknowledged message to another worker after this long. It must outlast the
    # longest task (CELERY_TASK_TIME_LIMIT) plus the longest retry countdown (a retried task waits
    # reserved on a worker: portal.celery.RETRY_BACKOFF_MAX), or a long job would run twice at once.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 60 * 60}
if CELERY_BROKER_URL.startswith("redis://"):
    # kombu's Redis transport, with the defect that killed a worker when Redis went away while a
    # late acknowledgement was in flight closed (portal/broker.py; issue 28, R20)
    CELERY_BROKER_TRANSPORT = "portal.broker:Transport"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# a worker keeps trying to reach the broker however long it is away (Celery gives up after 100 tries,
# about 45 minutes, and the worker exits); a till never waits on this: it publishes with
# CELERY_TASK_PUBLISH_RETRY_POLICY
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
# a till's request never waits long on a broker that is down: its events stay in the outbox
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=None)
CELERY_TASK_IGNORE_RESULT = CELERY_RESULT_BACKEND is None
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_TIME_LIMIT = 30 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 25 * 60
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True  # a task whose worker died is redelivered (tasks are idempotent)
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# webhook sends wait on the chain's receivers (up to 10 s each): their own queue, their own worker
# (`celery -A portal worker -Q webhooks`), so a slow receiver never delays the portal's tasks
CELERY_TASK_ROUTES = {"integrations.tasks.send_delivery": {"queue": "webhooks"}}
# transactional outbox (core.outbox): after a broker error a process leaves delivery to the
# relay for this long; the relay takes events older than OUTBOX_SETTLE_SECONDS (younger ones are
# being delivered by the process that wrote them); sent events and consumers' receipts are purged
OUTBOX_PAUSE_SECONDS = env.int("OUTBOX_PAUSE_SECONDS", default=10)
OUTBOX_SETTLE_SECONDS = env.int("OUTBOX_SETTLE_SECONDS", default=5)
OUTBOX_KEEP_DAYS = env.int("OUTBOX_KEEP_DAYS", default=7)
OUTBOX_RECEIPT_DAYS = env.int("OUTBOX_RECEIPT_DAYS", default=30)
# domain events stay this long for the event feed (events.md); jobs go after OUTBOX_KEEP_DAYS
EVENT_RETENTION_DAYS = env.int("EVENT_RETENTION_DAYS", default=30)
# an event handed to the broker is done when each consumer its receivers queued has its receipt;
# one still without it this long after the hand-over (or the consumer's last sign of progress) is
# handed over again (the broker lost it: Redis restarted empty, a worker killed whole), at most
# OUTBOX_RESEND_LIMIT times (core.outbox.reconcile, beat every 30 seconds): OUTBOX_CONFIRM_SECONDS
# when the broker's queues are empty, OUTBOX_BACKLOG_CONFIRM_SECONDS while tasks wait in them (the
# event may be waiting its turn; handing it over again would lengthen the backlog)
OUTBOX_CONFIRM_SECONDS = env.int("OUTBOX_CONFIRM_SECONDS", default=60)
OUTBOX_BACKLOG_CONFIRM_SECONDS = env.int("OUTBOX_BACKLOG_CONFIRM_SECONDS", default=15 * 60)
OUTBOX_RESEND_LIMIT = env.int("OUTBOX_RESEND_LIMIT", default=5)

CELERY_WORKER_HIJACK_ROOT_LOGGER = False
