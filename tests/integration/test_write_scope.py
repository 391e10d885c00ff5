"""Every write touches one policy's rows: the statements of an intake, a supervisor's
decision and a re-adjudication after documents, recorded as they reach the database,
name only the claim's policy and the claim (or the reference tables). This is what lets
the tables be distributed by policy number (docs/scaling.md)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event

from service.db.audit import _lock_key
from service.usecases.add_documents import add_documents
from service.usecases.decide_claim import SupervisorDecision, decide_claim
from service.usecases.submit_claim import submit_claim
from tests.integration.pg_tools import claim_data, put_policies

pytestmark = pytest.mark.integration

# Distributed by policy number: the policy's own rows and every row of its claims.
BY_POLICY = {
    "policies",
    "coverages",
    "claims",
    "documents",
    "decisions",
    "policy_daily",
    "outbox",
    "audit_events",
    "appeals",
    "claim_flags",
    "shadow_results",
}
REFERENCE = {"rulesets"}
BY_CLIENT = {"idempotency_keys"}  # an Idempotency-Key's row (docs/scaling.md)
_TABLE = re.compile(r'\b(?:FROM|JOIN|INTO|UPDATE(?!\s+OF\b))\s+"?([a-z_]+)"?', re.IGNORECASE)
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_CONTROL = re.compile(r"^\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE)\b", re.IGNORECASE)


@contextmanager
def recorded(ctx) -> Iterator[list[tuple[str, list[Any]]]]:
    engine = ctx.sessions.kw["bind"]
    log: list[tuple[str, list[Any]]] = []

    def on_execute(_conn, _cursor, statement, parameters, _context, _many):
        if not _CONTROL.match(statement):
            log.append((statement, list(_values(parameters))))

    event.listen(engine, "before_cursor_execute", on_execute)
    try:
        yield log
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)


def _values(parameters: Any) -> Iterator[Any]:
    if isinstance(parameters, dict):
        parameters = parameters.values()
    for value in parameters or ():
        if isinstance(value, dict | list | tuple):
            yield from _values(value)
        else:
            yield value


def assert_one_policy(log, policy: str, claim_id: str, other_policy: str, keyed: bool = False):
    keys = {policy, claim_id, f"claim:{claim_id}", _lock_key(f"claim:{claim_id}")}
    allowed = BY_POLICY | REFERENCE | (BY_CLIENT if keyed else set())
    assert log, "nothing recorded"
    for statement, values in log:
        tables = {t.lower() for t in _TABLE.findall(statement)}
        where = f"{statement}\n{values}"
        assert tables <= allowed, f"a table outside the policy: {tables - allowed}\n{where}"
        if tables & BY_POLICY or "advisory" in statement:
            assert keys & set(values), f"not restricted to the policy or the claim:\n{where}"
        strings = {v for v in values if isinstance(v, str)}
        assert other_policy not in strings, where
        assert {v for v in strings if _UUID.match(v)} <= {claim_id}, f"another claim:\n{where}"


@pytest.fixture
def policies(context):
    put_policies(context, ["P-DEV", "P-OTHER"])
    # Another policy with claims of its own: none of its rows may be touched.
    submit_claim(context, claim_data("P-OTHER"), client_id="scope")
    submit_claim(context, claim_data("P-OTHER", date_of_loss="2026-04-01"), client_id="scope")


def test_intake(context, policies):
    with recorded(context) as log:
        submitted = submit_claim(context, claim_data("P-DEV"), client_id="scope")
    assert_one_policy(log, "P-DEV", submitted.document["id"], "P-OTHER")


def test_intake_with_an_idempotency_key(context, policies):
    with recorded(context) as log:
        submitted = submit_claim(
            context, claim_data("P-DEV"), client_id="scope", idempotency_key="k-1"
        )
    assert_one_policy(log, "P-DEV", submitted.document["id"], "P-OTHER", keyed=True)


def test_supervisor_decision(context, policies):
    escalated = submit_claim(context, claim_data("P-DEV", date_of_loss="2026-04-01"), client_id="s")
    claim_id = escalated.document["id"]
    assert escalated.document["status"] == "escalated"
    choice = SupervisorDecision("approve", "checked by phone", amount=Decimal("100.00"))
    with recorded(context) as log:
        decided = decide_claim(context, claim_id, choice, expected_version=1, decided_by="sue")
    assert decided["status"] == "approved"
    assert_one_policy(log, "P-DEV", claim_id, "P-OTHER")


def test_readjudication_after_documents(context, policies):
    pending = submit_claim(context, claim_data("P-DEV", documents=["photos"]), client_id="s")
    claim_id = pending.document["id"]
    assert pending.document["status"] == "pending_info"
    receipt = [{"type": "purchase_receipt", "ref": "r-1"}]
    with recorded(context) as log:
        added = add_documents(context, claim_id, receipt, client_id=None, actor="intake")
    assert added.readjudicated and added.document["status"] == "approved"
    assert_one_policy(log, "P-DEV", claim_id, "P-OTHER")
