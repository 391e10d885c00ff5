"""What the use cases need from the outside world, as small interfaces.

Adapters implement them (service/adapters/notifier.py: SMTP and webhooks;
service/adapters/queue.py: RQ); tests hand in the in-memory fakes of
tests/fakes.py. The clock is service.clock.Clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Email:
    to: tuple[str, ...]
    subject: str
    text: str
    html: str | None = None
    message_id: str | None = None  # stable per outbox row, so mail systems can dedupe
    language: str = "en"


class Transient(Exception):
    """Worth another try later (network error, 5xx, a host that does not resolve)."""


class Permanent(Exception):
    """No retry will fix it (4xx, a refused address); the message goes dead at once."""


class Notifier(Protocol):
    """Sends one message. Raises Permanent when no retry can help; any other exception
    (Transient among them) is worth another try."""

    def send_email(self, email: Email) -> None: ...

    def post_webhook(self, url: str, headers: dict[str, str], body: str) -> None: ...


class Dispatcher(Protocol):
    """Hands outbox rows to the job queue."""

    def dispatch_outbox(
        self, outbox_ids: list[int], request_id: str | None = None, *, new: bool = False
    ) -> None:
        """Enqueue deliveries of these rows after their transaction committed; never raises
        (rows left `pending` are relayed later). `new`: rows just committed, which no job
        can hold yet (skips the live-job check)."""

    def enqueue_deliveries(
        self,
        queue_name: str,
        attempts: list[tuple[int, int]],
        request_ids: dict[int, str | None],
        batch_size: int,
    ) -> None:
        """Enqueue these (row id, attempt) deliveries, skipping any a live job holds;
        raises when the queue cannot be reached (the relay then leaves the rows due)."""


class NullDispatcher:
    """Leaves rows pending (tools that only write; the relay sends them later)."""

    def dispatch_outbox(
        self, outbox_ids: list[int], request_id: str | None = None, *, new: bool = False
    ) -> None:
        return None

    def enqueue_deliveries(
        self,
        queue_name: str,
        attempts: list[tuple[int, int]],
        request_ids: dict[int, str | None],
        batch_size: int,
    ) -> None:
        raise ConnectionError("no job queue configured")
