"""What a use case needs from the outside, handed in (so tests can swap parts).

The ports (service/ports.py) and the clock (service/clock.py) are
interfaces: production builds the real adapters here, tests hand in the fakes of
tests/fakes.py. Nothing here connects at construction.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from service.adapters.notifier import SmtpWebhookNotifier
from service.clock import Clock, SystemClock
from service.config import Config
from service.db.session import READ_ONLY, Session, Sessions, session_factory
from service.domain.identity import CachedKey
from service.metrics import count_reload
from service.ports import Dispatcher, Notifier, NullDispatcher
from service.rules.limits import Limits
from service.rules.manager import RulesetManager
from service.usecases.rulesets import DatabaseRulesetStore

if TYPE_CHECKING:
    from service.rules.engine import RulesEngine


@dataclass
class Context:
    config: Config
    sessions: Sessions
    rules: RulesetManager
    notifier: Notifier
    dispatcher: Dispatcher = field(default_factory=NullDispatcher)
    clock: Clock = field(default_factory=SystemClock)
    shadow: RulesetManager | None = None
    key_cache: dict[str, CachedKey] = field(default_factory=dict)  # API keys looked up (auth)

    @property
    def engine(self) -> RulesEngine:
        """The rules engine, built on first use (after a fork, never at import)."""
        return self.rules.engine()

    @contextmanager
    def unit_of_work(self, *, read_only: bool = False) -> Iterator[Session]:
        """A transaction: committed by the caller, rolled back on any error or if left open.

        `read_only`: the caller only reads. On SQLite the transaction then begins
        DEFERRED (readers do not queue behind writers for the write lock); it must not
        write."""
        session = self.sessions()
        try:
            if read_only:
                session.connection(execution_options={READ_ONLY: True})
            yield session
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()


def build_context(
    config: Config, dispatcher: Dispatcher | None = None, clock: Clock | None = None
) -> Context:
    """The production context: sessions on DATABASE_URL, the rules folders (limits from
    the RULES_* settings, the last active version kept in the database, reloads shared
    with the host's other processes through INSTANCE_DIR/rulesets), SMTP and webhooks
    behind the Notifier, and `dispatcher` (default: rows wait for the relay)."""
    sessions = session_factory(
        config.database_url, config.db_statement_timeout_ms, config.db_lock_timeout_ms
    )
    limits = Limits.from_config(config)
    host = Path(config.instance_dir) / "rulesets"  # shared by the processes of this host
    shadow_dir = config.shadow_rules_dir
    return Context(
        config=config,
        sessions=sessions,
        rules=RulesetManager(
            Path(config.rules_dir),
            config.rules_watch_seconds,
            count_reload,
            limits=limits,
            # wall time, not `clock`: activated_at orders real switches across processes
            # (a sweep's or a test's fixed instant must not make an old version "last")
            store=DatabaseRulesetStore(sessions),
            state_dir=host,
        ),
        notifier=SmtpWebhookNotifier(config),
        dispatcher=dispatcher or NullDispatcher(),
        clock=clock or SystemClock(),
        shadow=RulesetManager(
            Path(shadow_dir), config.rules_watch_seconds, limits=limits, state_dir=host
        )
        if shadow_dir
        else None,
    )
