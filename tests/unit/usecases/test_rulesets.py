"""rulesets: the database RulesetStore (the last active version and its text), each decided
version's text stored once for audit, and the reads behind /v1/rulesets."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from sqlalchemy import select

from service.db import rulesets as repo
from service.db.tables import RulesetRow
from service.usecases.rulesets import (
    DatabaseRulesetStore,
    ensure_ruleset_stored,
    list_versions,
    stored_ruleset,
)
from tests.unit.usecases.conftest import T0, add_claim

pytestmark = pytest.mark.unit

V1 = {"rules/approve.yaml": "rule: approve v1"}
V2 = {"rules/approve.yaml": "rule: approve v2", "rules/reject.yaml": "rule: reject"}


@dataclass
class FakeRuleset:
    files: dict[str, str]
    rules: list[str]


@dataclass
class FakeManager:
    """What ensure_ruleset_stored uses of RulesetManager: its cache and recent versions."""

    recent: dict[str, FakeRuleset] = field(default_factory=dict)
    stored: set[str] = field(default_factory=set)
    asked: list[str] = field(default_factory=list)

    def ruleset_by_version(self, version: str) -> FakeRuleset | None:
        self.asked.append(version)
        return self.recent.get(version)


def stored_versions(ctx) -> list[str]:
    with ctx.unit_of_work(read_only=True) as s:
        return sorted(s.scalars(select(RulesetRow.version)))


def test_the_store_returns_the_version_activated_last_with_its_own_text(ctx, clock):
    store = DatabaseRulesetStore(ctx.sessions, clock)
    assert store.last_active() is None and store.files_of("v1") is None
    store.activated("v1", V1, 1)
    clock.advance(hours=1)
    store.activated("v2", V2, 2)
    assert store.last_active() == ("v2", V2)
    clock.advance(hours=1)
    store.activated("v1", {"rules/approve.yaml": "edited since?"}, 9)  # switched back
    assert store.last_active() == ("v1", V1)  # the text is stored once, never replaced
    assert store.files_of("v2") == V2 and store.files_of("v3") is None
    assert stored_versions(ctx) == ["v1", "v2"]
    with ctx.unit_of_work(read_only=True) as s:
        v1 = s.get(RulesetRow, "v1")
        assert (v1.rule_count, v1.first_loaded_at, v1.activated_at) == (
            1,
            T0,
            T0 + timedelta(hours=2),
        )


def test_before_any_activation_the_newest_stored_version_is_the_last_active(ctx):
    with ctx.unit_of_work() as s:
        repo.store_ruleset(s, "old", V1, 1, T0)
        repo.store_ruleset(s, "new", V2, 2, T0 + timedelta(minutes=1))
        s.commit()
    assert DatabaseRulesetStore(ctx.sessions).last_active() == ("new", V2)


def test_the_store_reads_without_waiting_for_an_open_writer(ctx, clock):
    """The manager may ask while its caller holds a write transaction (SQLite: one writer)."""
    store = DatabaseRulesetStore(ctx.sessions, clock)
    store.activated("v1", V1, 1)
    with ctx.unit_of_work() as writer:
        repo.store_ruleset(writer, "v2", V2, 2, T0)
        writer.flush()  # the write lock is held until the commit
        assert store.last_active() == ("v1", V1)
        assert store.files_of("v2") is None  # not committed yet
        writer.commit()
    assert store.files_of("v2") == V2


def test_a_decided_version_is_stored_once_and_cached_only_when_committed(ctx):
    manager = FakeManager(recent={"v1": FakeRuleset(V1, ["a", "b", "c"])})
    with ctx.unit_of_work() as s:
        ensure_ruleset_stored(s, manager, "v1")
        s.rollback()  # the claim's transaction failed
    assert stored_versions(ctx) == [] and manager.stored == set()

    with ctx.unit_of_work() as s:  # the next claim stores it
        ensure_ruleset_stored(s, manager, "v1")
        s.commit()
    assert manager.stored == set()  # stored, but not yet seen committed
    assert stored_ruleset(ctx, "v1")["files"] == V1
    assert stored_ruleset(ctx, "v1")["rule_count"] == 3

    with ctx.unit_of_work() as s:
        ensure_ruleset_stored(s, manager, "v1")  # found in the table: cached from now on
    assert manager.stored == {"v1"}
    assert manager.asked == ["v1", "v1"]
    with ctx.unit_of_work() as s:
        s.delete(s.get(RulesetRow, "v1"))
        s.commit()
    with ctx.unit_of_work() as s:
        ensure_ruleset_stored(s, manager, "v1")  # the cache answers: no read, no write
        s.commit()
    assert stored_versions(ctx) == []


def test_the_version_that_decided_is_stored_not_the_current_one(ctx):
    manager = FakeManager(recent={"v1": FakeRuleset(V1, ["a"]), "v2": FakeRuleset(V2, ["a", "b"])})
    with ctx.unit_of_work() as s:
        ensure_ruleset_stored(s, manager, "v1")  # decided just before the swap to v2
        s.commit()
    assert stored_versions(ctx) == ["v1"]
    assert stored_ruleset(ctx, "v1")["files"] == V1


def test_an_unknown_version_stores_nothing_and_warns(ctx, caplog):
    manager = FakeManager()
    with caplog.at_level(logging.WARNING, logger="service.usecases.rulesets"):
        with ctx.unit_of_work() as s:
            ensure_ruleset_stored(s, manager, "f" * 64)
            s.commit()
    assert stored_versions(ctx) == [] and manager.stored == set()
    assert "ffffffffffff decided a claim but is not known here" in caplog.text


def test_stored_ruleset_is_the_full_text_for_audit(ctx):
    with ctx.unit_of_work() as s:
        repo.store_ruleset(s, "v2", V2, 2, T0)
        s.commit()
    assert stored_ruleset(ctx, "v2") == {
        "version": "v2",
        "rule_count": 2,
        "first_loaded_at": "2026-03-02T09:00:00+00:00",
        "files": V2,
    }
    assert stored_ruleset(ctx, "v9") is None


def test_versions_are_listed_newest_first_with_the_decisions_naming_each(ctx):
    with ctx.unit_of_work() as s:
        repo.store_ruleset(s, "v1", V1, 1, T0)
        repo.store_ruleset(s, "v2", V2, 2, T0 + timedelta(days=1))
        repo.store_ruleset(s, "v0", V1, 1, T0 - timedelta(days=1))
        s.commit()
    for _ in range(3):
        add_claim(ctx)  # decided by v1
    assert list_versions(ctx) == [
        {"version": "v2", "rule_count": 2, "first_loaded_at": "2026-03-03T09:00:00+00:00",
         "decisions": 0},
        {"version": "v1", "rule_count": 1, "first_loaded_at": "2026-03-02T09:00:00+00:00",
         "decisions": 3},
        {"version": "v0", "rule_count": 1, "first_loaded_at": "2026-03-01T09:00:00+00:00",
         "decisions": 0},
    ]  # fmt: skip
    assert [v["version"] for v in list_versions(ctx, limit=2)] == ["v2", "v1"]
