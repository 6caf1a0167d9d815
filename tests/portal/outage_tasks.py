"""Tasks the broker-outage tests load into a real worker (`celery worker -I tests.portal.outage_tasks`):
they touch marker files, so the test sees what ran without a database."""

import time
from pathlib import Path

from celery import shared_task


@shared_task(name="tests.outage.slow", acks_late=True)
def slow(directory: str, name: str, seconds: float) -> str:
    """In flight for `seconds`: started, then done (its late acknowledgement comes after)."""
    Path(directory, f"{name}.started").touch()
    time.sleep(seconds)
    Path(directory, f"{name}.done").touch()
    return name


@shared_task(name="tests.outage.touch", acks_late=True)
def touch(directory: str, name: str) -> str:
    Path(directory, name).touch()
    return name
