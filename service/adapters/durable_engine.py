"""The one module that talks to durable_rules (its C extension, directly).

No Host and no threads: per claim, under one process-wide lock, the claim is
asserted as a fact with a fixed session id and a fresh fact id, the rules that
matched are drained from the action queue, and the fact is retracted again. The
engine only says *which* rules matched; what that means is decided in Python.

Known traps of durable_rules 2.0.28 avoided here (see rules/README.md):
not thread-safe (lock); `delete_state` on a state where no action ran crashes
(an always-firing rule ensures one did); 1,024 sessions (one sid, reused);
every error code becomes DurableError and the shard set is never reused after.
"""

from __future__ import annotations

import itertools
import json
import os
import threading
from collections.abc import Iterable, Mapping
from typing import Any

import durable_rules_engine as _engine

SID = "0"
_names = itertools.count(1)
LOCK = threading.Lock()


def _reset_lock() -> None:  # a child forked while another thread held the lock
    global LOCK
    LOCK = threading.Lock()


os.register_at_fork(after_in_child=_reset_lock)


def _rule_name(message: str) -> str:
    """The fired rule's name: the only key of `{"name": {...}}` (no full JSON parse)."""
    if message.startswith('{"'):
        return message[2 : message.index('"', 2)]
    return str(next(iter(json.loads(message))))


class DurableError(Exception):
    """The engine returned an error code or raised; the rulesets must not be reused."""


class DurableRulesets:
    """One or more durable rulesets (shards) that together hold a rule set.

    Not thread-safe by itself: call `matched` and `close` while holding LOCK.
    """

    def __init__(self, shards: Iterable[Mapping[str, Any]], label: str = "claims") -> None:
        # Safe without LOCK: a C call never releases the GIL, and creating a ruleset
        # touches only its own new handle; it never interleaves with a claim's calls.
        self.pid = os.getpid()
        self._handles: list[int] = []
        self._used: list[bool] = []
        self._fact_ids = itertools.count(1)
        self.broken = False
        try:
            for shard in shards:
                name = f"{label}_{os.getpid()}_{next(_names)}"
                self._handles.append(_engine.create_ruleset(name, json.dumps(shard)))
                self._used.append(False)
        except Exception as exc:
            self.broken = True
            raise DurableError(f"could not create the rules in the engine: {exc}") from exc

    def matched(self, fact: Mapping[str, Any]) -> list[str]:
        """Names of the durable rules that matched this fact, in firing order."""
        if self.broken:
            raise DurableError("the rules engine failed earlier in this process")
        message = dict(fact)
        message["sid"] = SID
        message["id"] = str(next(self._fact_ids))
        message["kind"] = "claim"
        text = json.dumps(message)
        fired: list[str] = []
        try:
            for i, handle in enumerate(self._handles):
                code, state = _engine.assert_fact(handle, text)
                if code != 0:
                    raise DurableError(f"assert_fact returned code {code}")
                self._used[i] = True
                result = _engine.start_action_for_state(handle, state)
                while result:
                    fired.append(_rule_name(result[1]))
                    following = _engine.complete_and_start_action(handle, state)
                    result = (None, following) if following else None
                code, _ = _engine.retract_fact(handle, text)
                if code != 0:
                    raise DurableError(f"retract_fact returned code {code}")
        except DurableError:
            self.broken = True
            raise
        except Exception as exc:
            self.broken = True
            raise DurableError(f"rules engine error: {exc}") from exc
        return fired

    def close(self) -> None:
        """Delete the session state (only where an action ran) and the rulesets."""
        if self.pid != os.getpid() or self.broken:
            self._handles = []  # another process's or broken handles: leave them alone
            return
        for handle, used in zip(self._handles, self._used, strict=True):
            try:
                if used:
                    _engine.delete_state(handle, SID)
                _engine.delete_ruleset(handle)
            except Exception as exc:
                raise DurableError(f"could not delete a ruleset: {exc}") from exc
        self._handles = []
