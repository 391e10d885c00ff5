"""service.metrics: counters, scrape-time gauges that fail soft, multi-process mode."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
from flask import Flask
from prometheus_client import REGISTRY

from service import metrics

pytestmark = pytest.mark.unit


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture(autouse=True)
def single_process(monkeypatch):
    monkeypatch.delenv(metrics.MULTIPROC_ENV, raising=False)


def test_observe_decision_counts_and_times():
    before = value("decisions_total", outcome="approved", claim_type="device_damage")
    count_before = value("adjudication_seconds_count")
    metrics.observe_decision("approved", "device_damage", 0.004)
    assert value("decisions_total", outcome="approved", claim_type="device_damage") == before + 1
    assert value("adjudication_seconds_count") == count_before + 1


def test_count_reload():
    before = value("rules_reload_total", result="error")
    metrics.count_reload("error")
    assert value("rules_reload_total", result="error") == before + 1


def make_app(**kwargs) -> Flask:
    app = Flask(__name__)
    metrics.install_metrics(app, **kwargs)

    @app.get("/v1/claims/<claim_id>")
    def claim(claim_id):
        return {"id": claim_id}

    return app


def test_metrics_endpoint_exposes_everything():
    app = make_app(
        queue_depths=lambda: {"notifications": 3, "followups": 0}, outbox_lag=lambda: 12.5
    )
    client = app.test_client()
    client.get("/v1/claims/abc")
    metrics.observe_decision("escalated", "fire_damage", 0.01)
    metrics.count_reload("ok")
    resp = client.get("/metrics")
    assert resp.status_code == 200 and resp.content_type.startswith("text/plain")
    text = resp.get_data(as_text=True)
    assert 'http_requests_total{endpoint="/v1/claims/<claim_id>",method="GET",status="200"}' in text
    assert 'decisions_total{claim_type="fire_damage",outcome="escalated"}' in text
    assert "adjudication_seconds_bucket" in text
    assert 'rules_reload_total{result="ok"}' in text
    assert 'queue_depth{queue="notifications"} 3.0' in text
    assert "outbox_lag_seconds 12.5" in text


def test_scrape_fails_soft_when_sources_fail():
    def broken():
        raise ConnectionError("redis down")

    app = make_app(queue_depths=broken, outbox_lag=broken)
    resp = app.test_client().get("/metrics")
    assert resp.status_code == 200
    text = resp.get_data(as_text=True)
    assert "queue_depth{" not in text and "outbox_lag_seconds " not in text
    assert "decisions_total" in text


def test_default_queue_depth_with_unreachable_redis_is_quick_and_soft():
    app = make_app()
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    resp = app.test_client().get("/metrics")
    assert resp.status_code == 200 and "queue_depth{" not in resp.get_data(as_text=True)


def test_prepare_multiproc_dir_sets_env_and_cleans(tmp_path, monkeypatch):
    stale = tmp_path / "counter_123.db"
    stale.write_bytes(b"old")
    assert metrics.prepare_multiproc_dir(str(tmp_path)) == str(tmp_path)
    assert os.environ[metrics.MULTIPROC_ENV] == str(tmp_path) and not stale.exists()


def test_multiprocess_mode_merges_processes(tmp_path):
    """Two processes write to one folder (as gunicorn workers do); a third scrapes."""
    write = textwrap.dedent(
        """
        from service import metrics
        metrics.observe_decision("rejected", "water_damage", 0.02)
        """
    )
    env = {**os.environ, metrics.MULTIPROC_ENV: str(tmp_path)}
    for _ in range(2):
        subprocess.run([sys.executable, "-c", write], env=env, check=True, cwd=os.getcwd())
    read = "from service import metrics; print(metrics.render()[0].decode())"
    out = subprocess.run(
        [sys.executable, "-c", read], env=env, check=True, capture_output=True, text=True
    ).stdout
    assert 'decisions_total{claim_type="water_damage",outcome="rejected"} 2.0' in out
