"""What a use case needs from the outside, handed in (so tests can swap parts)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session, sessionmaker

from service.adapters.queue import Dispatcher, NullDispatcher
from service.config import Config
from service.db.session import READ_ONLY
from service.rules.limits import Limits
from service.rules.manager import RulesetManager
from service.usecases.rulesets import DatabaseRulesetStore

if TYPE_CHECKING:
    from service.rules.engine import RulesEngine


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Context:
    config: Config
    sessions: sessionmaker[Session]
    rules: RulesetManager
    dispatcher: Dispatcher = field(default_factory=NullDispatcher)
    clock: Callable[[], datetime] = utcnow
    shadow: RulesetManager | None = None
    key_cache: dict[str, Any] = field(default_factory=dict)  # API keys looked up (auth)

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


def build_context(config: Config, dispatcher: Dispatcher | None = None) -> Context:
    from service.db.session import session_factory

    def counted(result: str) -> None:
        from service.metrics import count_reload

        count_reload(result)

    sessions = session_factory(config.database_url)
    limits = Limits.from_config(config)
    host = Path(config.instance_dir) / "rulesets"  # shared by the processes of this host
    shadow_dir = config.shadow_rules_dir
    return Context(
        config=config,
        sessions=sessions,
        rules=RulesetManager(
            Path(config.rules_dir),
            config.rules_watch_seconds,
            counted,
            limits=limits,
            store=DatabaseRulesetStore(sessions),
            state_dir=host,
        ),
        dispatcher=dispatcher or NullDispatcher(),
        shadow=RulesetManager(
            Path(shadow_dir), config.rules_watch_seconds, limits=limits, state_dir=host
        )
        if shadow_dir
        else None,
    )
