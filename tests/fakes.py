"""In-memory fakes of the ports (service/ports.py), for the fast unit tests.

`FakeNotifier` records what would be sent and can be told to fail; `FakeDispatcher`
records what would be enqueued and can play a queue that is down. The clock is
service.clock.FixedClock. The unit tests keep their data in a SQLite
database file in the test's temporary folder (`memory_context`): no server, a fresh schema
per test.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from service.clock import FixedClock
from service.config import Config
from service.config import load as load_config
from service.db.session import session_factory
from service.db.tables import Base
from service.ports import Email
from service.rules.manager import RulesetManager
from service.usecases.context import Context

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class FakeNotifier:
    emails: list[Email] = field(default_factory=list)
    webhooks: list[tuple[str, dict[str, str], str]] = field(default_factory=list)
    fail_with: BaseException | None = None  # raised by every send while set

    def send_email(self, email: Email) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.emails.append(email)

    def post_webhook(self, url: str, headers: dict[str, str], body: str) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.webhooks.append((url, headers, body))


@dataclass
class FakeDispatcher:
    dispatched: list[list[int]] = field(default_factory=list)
    enqueued: list[tuple[str, list[tuple[int, int]]]] = field(default_factory=list)
    down: bool = False  # the queue cannot be reached

    def dispatch_outbox(
        self, outbox_ids: list[int], request_id: str | None = None, *, new: bool = False
    ) -> None:
        if outbox_ids and not self.down:
            self.dispatched.append(list(outbox_ids))

    def enqueue_deliveries(
        self,
        queue_name: str,
        attempts: list[tuple[int, int]],
        request_ids: dict[int, str | None],
        batch_size: int,
    ) -> None:
        if self.down:
            raise ConnectionError("queue down")
        self.enqueued.append((queue_name, list(attempts)))


def memory_context(clock: FixedClock, tmp_path: Path, **settings: object) -> Context:
    """A context on a fresh SQLite file in `tmp_path`, with fakes for the outside world."""
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'unit.db'}",
        "INSTANCE_DIR": str(tmp_path / "instance"),
        "LOG_FORMAT": "text",
    }
    config: Config = load_config(env, **settings)
    sessions = session_factory(config.database_url)
    Base.metadata.create_all(sessions.kw["bind"])
    return Context(
        config=config,
        sessions=sessions,
        rules=RulesetManager(ROOT / "rules", 0),
        notifier=FakeNotifier(),
        dispatcher=FakeDispatcher(),
        clock=clock,
    )
