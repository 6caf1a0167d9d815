"""SMS as a pluggable backend, like Django's e-mail backends (settings.SMS_BACKEND).

The default console backend prints the message, so one-time codes can be read in development.
A production backend subclasses BaseSmsBackend and implements send()."""

import logging
import sys
from abc import ABC, abstractmethod

from django.conf import settings
from django.utils.module_loading import import_string

log = logging.getLogger(__name__)


class BaseSmsBackend(ABC):
    @abstractmethod
    def send(self, phone: str, text: str) -> None:
        """Deliver `text` to the mainland mobile number `phone`."""


class ConsoleSmsBackend(BaseSmsBackend):
    def send(self, phone: str, text: str) -> None:
        sys.stdout.write(f"[SMS to {phone}] {text}\n")
        sys.stdout.flush()


class LocmemSmsBackend(BaseSmsBackend):
    """Keeps messages in `outbox`, for tests."""

    outbox: list[tuple[str, str]] = []

    def send(self, phone: str, text: str) -> None:
        self.outbox.append((phone, text))


def get_backend() -> BaseSmsBackend:
    return import_string(settings.SMS_BACKEND)()


def send_sms(phone: str, text: str) -> None:
    get_backend().send(phone, text)
