"""RulesetManager with an in-memory store (fast; the database and sandbox versions are in
tests/integration/test_rules_manager.py): last good version, host marker, status."""

from __future__ import annotations

import gc
import shutil
from pathlib import Path

import pytest

from service.rules.engine import EngineFailure
from service.rules.manager import RulesetManager

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]


class FakeRulesetStore:
    """RulesetStore in memory: {version: files}, activation order."""

    def __init__(self) -> None:
        self.files: dict[str, dict[str, str]] = {}
        self.active: list[str] = []

    def last_active(self) -> tuple[str, dict[str, str]] | None:
        return (self.active[-1], self.files[self.active[-1]]) if self.active else None

    def files_of(self, version: str) -> dict[str, str] | None:
        return self.files.get(version)

    def activated(self, version: str, files: dict[str, str], rule_count: int) -> None:
        self.files[version] = dict(files)
        self.active.append(version)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    target = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", target, ignore=shutil.ignore_patterns("tests", "schema"))
    return target


def manager(folder: Path, store: FakeRulesetStore, state: Path | None) -> RulesetManager:
    return RulesetManager(folder, 0, store=store, state_dir=state, verify=False)


def edit(folder: Path, text: str | None = None) -> None:
    amounts = folder / "amounts.yaml"
    amounts.write_text(text or amounts.read_text().replace("{gt: 1000}", "{gt: 200}"))


def test_a_broken_folder_at_start_falls_back_to_the_last_active_version(folder: Path) -> None:
    store = FakeRulesetStore()
    first = manager(folder, store, None)
    good = first.engine().ruleset.version
    assert store.active == [good]  # recorded when loaded (no thread here: at once)
    edit(folder, "rules: [&a {}]\n")
    started = manager(folder, store, None)
    assert started.engine().ruleset.version == good
    status = started.status()
    assert (status["source"], status["version"]) == ("database", good)
    assert status["folder_error"] == status["last_error"]
    assert str(status["folder_error"]).startswith("amounts.yaml:1:9: anchor &a refused")


def test_without_any_version_status_still_answers(folder: Path) -> None:
    edit(folder, "rules: [[[")
    lost = manager(folder, FakeRulesetStore(), None)
    with pytest.raises(EngineFailure):
        lost.engine()
    status = lost.status()
    assert (status["version"], status["source"], status["files"]) == (None, "none", [])
    assert str(status["folder_error"]).startswith("amounts.yaml:")
    assert lost.reload().error  # still refused, never an exception


def test_a_reload_moves_every_manager_of_the_host(folder: Path, tmp_path: Path) -> None:
    store, state = FakeRulesetStore(), tmp_path / "host"
    one, two = manager(folder, store, state), manager(folder, store, state)
    old = one.engine().ruleset.version
    assert two.engine().ruleset.version == old
    edit(folder)
    result = one.reload()
    assert result.changed and result.version != old
    assert two.engine().ruleset.version == result.version  # the next call, no watch
    assert one.wait_for_switch(result.version, timeout=0) == {"switched": 1, "processes": 1}


def test_a_manager_that_is_gone_is_not_waited_for(folder: Path, tmp_path: Path) -> None:
    store, state = FakeRulesetStore(), tmp_path / "host"
    one, gone = manager(folder, store, state), manager(folder, store, state)
    one.engine()
    gone.engine()
    gone.status()
    del gone
    gc.collect()
    edit(folder)
    version = one.reload().version
    assert version is not None
    assert one.wait_for_switch(version, timeout=0) == {"switched": 1, "processes": 1}


def test_a_refused_reload_keeps_the_version_and_fills_last_error(folder: Path) -> None:
    live = manager(folder, FakeRulesetStore(), None)
    old = live.engine().ruleset.version
    edit(folder, "rules:\n  - <<: {id: X}\n")
    result = live.reload()
    assert (result.changed, result.version) == (False, old)
    assert result.error == live.last_error
    assert str(live.last_error).startswith("amounts.yaml:2:5: merge key << refused")
    assert live.status()["version"] == old


def test_an_unreadable_folder_at_start_is_a_folder_problem_not_a_crash(tmp_path, monkeypatch):
    """Finding 2: whatever reading the folder raises, start and reload answer with the
    last active version or RulesUnavailable (503), never the raw error (a 500)."""
    from service.rules import manager as manager_module
    from service.rules.manager import RulesUnavailable

    def unreadable(*_args: object) -> object:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(manager_module, "read_folder", unreadable)
    manager = RulesetManager(tmp_path, watch_seconds=0)
    with pytest.raises(RulesUnavailable):
        manager.engine()
    assert "could not load: PermissionError" in (manager.reload().error or "")
