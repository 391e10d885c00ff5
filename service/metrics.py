"""Prometheus metrics, safe under gunicorn's worker processes.

prometheus_client decides at import time whether values live in memory or in
files under PROMETHEUS_MULTIPROC_DIR, so this module imports it lazily:
`claims serve` calls `prepare_multiproc_dir()` *before* anything touches
prometheus_client, and every gunicorn worker then writes to that folder.
`/metrics` merges the files of all workers.

Counters and the latency histogram are recorded where things happen
(`observe_decision`, `count_reload`, `count_http_request`). Queue depth and
outbox lag are read at scrape time by a collector (Redis with a short timeout,
the database through a callable the app hands in) and fail soft: a broken
dependency leaves the gauge out, never the whole page.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
RQ_QUEUE_KEY = "rq:queue:{}"  # RQ's list of waiting job ids per queue

_lock = threading.Lock()
_metrics: dict[str, Any] = {}


def prepare_multiproc_dir(path: str | None = None, clean: bool = True) -> str:
    """Point PROMETHEUS_MULTIPROC_DIR at an empty folder and return it.

    Call once in the gunicorn master before workers start (and before
    prometheus_client is imported). Keeps an existing setting unless `path`
    is given; stale files from an earlier run are removed when `clean`.
    """
    target = path or os.environ.get(MULTIPROC_ENV) or tempfile.mkdtemp(prefix="claims-metrics-")
    folder = Path(target)
    if clean and folder.exists():
        for child in folder.glob("*.db"):
            child.unlink(missing_ok=True)
    folder.mkdir(parents=True, exist_ok=True)
    os.environ[MULTIPROC_ENV] = str(folder)
    return str(folder)


def mark_process_dead(pid: int) -> None:
    """For gunicorn's `child_exit` hook: drop a dead worker's live gauges."""
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)


def _get() -> dict[str, Any]:
    """Create the metric objects on first use, once per process."""
    if _metrics:
        return _metrics
    with _lock:
        if not _metrics:
            from prometheus_client import Counter, Histogram

            _metrics.update(
                decisions=Counter(
                    "decisions_total",
                    "Claims decided, by outcome and claim type",
                    ["outcome", "claim_type"],
                ),
                latency=Histogram(
                    "adjudication_seconds",
                    "Time to adjudicate one claim (facts, rules, outcome)",
                    buckets=LATENCY_BUCKETS,
                ),
                reloads=Counter("rules_reload_total", "Rule file (re)loads, by result", ["result"]),
                http=Counter(
                    "http_requests_total",
                    "HTTP requests, by method, route and status",
                    ["method", "endpoint", "status"],
                ),
            )
    return _metrics


# --- what the app calls --------------------------------------------------------


def observe_decision(outcome: str, claim_type: str, seconds: float) -> None:
    m = _get()
    m["decisions"].labels(outcome=outcome, claim_type=claim_type).inc()
    m["latency"].observe(seconds)


def count_reload(result: str) -> None:
    """result: "ok" or "error" (a refused or broken rule file)."""
    _get()["reloads"].labels(result=result).inc()


def count_http_request(method: str, endpoint: str, status: int) -> None:
    _get()["http"].labels(method=method, endpoint=endpoint, status=str(status)).inc()


# --- scrape-time gauges ----------------------------------------------------------


def redis_queue_depths(redis_url: str, queues: Iterable[str]) -> dict[str, int]:
    """Jobs waiting per RQ queue; raises if Redis does not answer within 0.5 s."""
    from redis import Redis

    conn = Redis.from_url(redis_url, socket_connect_timeout=0.5, socket_timeout=0.5)
    try:
        pipe = conn.pipeline()
        names = list(queues)
        for name in names:
            pipe.llen(RQ_QUEUE_KEY.format(name))
        return dict(zip(names, (int(n) for n in pipe.execute()), strict=True))
    finally:
        conn.close()


class ScrapeTimeCollector:
    """Yields queue_depth{queue}, outbox_lag_seconds and the day's touchless figures
    (claims_decided_today, claims_touchless_today, touchless_rate_today, per
    claim_type); each source may fail alone."""

    def __init__(
        self,
        queue_depths: Callable[[], Mapping[str, int]] | None = None,
        outbox_lag: Callable[[], float | None] | None = None,
        touchless: Callable[[], Mapping[str, tuple[int, int]]] | None = None,
    ) -> None:
        self.queue_depths = queue_depths
        self.outbox_lag = outbox_lag
        self.touchless = touchless

    def collect(self) -> Iterable[Any]:
        from prometheus_client.core import GaugeMetricFamily

        if self.queue_depths is not None:
            depth = GaugeMetricFamily("queue_depth", "Jobs waiting per queue", labels=["queue"])
            try:
                for name, count in sorted(self.queue_depths().items()):
                    depth.add_metric([name], count)
                yield depth
            except Exception as exc:  # noqa: BLE001 - fail soft
                log.warning("queue_depth unavailable: %s", type(exc).__name__)
        if self.outbox_lag is not None:
            try:
                lag = self.outbox_lag()
            except Exception as exc:  # noqa: BLE001 - fail soft
                log.warning("outbox_lag_seconds unavailable: %s", type(exc).__name__)
            else:
                yield GaugeMetricFamily(
                    "outbox_lag_seconds",
                    "Age of the oldest undelivered outbox message (0 when none)",
                    value=float(lag or 0.0),
                )
        if self.touchless is not None:
            yield from self._touchless(self.touchless)

    @staticmethod
    def _touchless(source: Callable[[], Mapping[str, tuple[int, int]]]) -> Iterable[Any]:
        from prometheus_client.core import GaugeMetricFamily

        try:
            figures = source()
        except Exception as exc:  # noqa: BLE001 - fail soft
            log.warning("touchless figures unavailable: %s", type(exc).__name__)
            return
        decided = GaugeMetricFamily(
            "claims_decided_today",
            "Claims first approved or rejected today (UTC), by claim type",
            labels=["claim_type"],
        )
        touchless = GaugeMetricFamily(
            "claims_touchless_today",
            "Of those, decided by the rules and never pended, by claim type",
            labels=["claim_type"],
        )
        rate = GaugeMetricFamily(
            "touchless_rate_today",
            "Auto-adjudication (touchless) rate today (UTC): touchless / decided",
            labels=["claim_type"],
        )
        for claim_type, (n, t) in sorted(figures.items()):
            decided.add_metric([claim_type], n)
            touchless.add_metric([claim_type], t)
            rate.add_metric([claim_type], t / n if n else 0.0)
        yield decided
        yield touchless
        yield rate


def render(collector: ScrapeTimeCollector | None = None) -> tuple[bytes, str]:
    """The text exposition of this process (or of all gunicorn workers)."""
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

    _get()
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = CollectorRegistry()
        registry.register(_RegistryView(REGISTRY))
    if collector is not None:
        registry.register(collector)
    return generate_latest(registry), CONTENT_TYPE_LATEST


class _RegistryView:
    """Wraps the default registry so a per-scrape registry can include it."""

    def __init__(self, source: Any) -> None:
        self.source = source

    def collect(self) -> Iterable[Any]:
        return self.source.collect()


def install_metrics(
    app: Any,
    queue_depths: Callable[[], Mapping[str, int]] | None = None,
    outbox_lag: Callable[[], float | None] | None = None,
    touchless: Callable[[], Mapping[str, tuple[int, int]]] | None = None,
) -> None:
    """Add GET /metrics and count every request by route.

    `queue_depths` defaults to LLEN of the configured QUEUES in REDIS_URL
    (taken from app.config, or the environment). `outbox_lag` returns the age
    in seconds of the oldest pending outbox row; the app passes a function
    backed by the data layer (no database access happens here); `touchless` the day's
    (decided, touchless) claims per claim type (service/usecases/read_touchless.py).
    """
    from flask import Response, request

    if queue_depths is None:
        queue_depths = _default_queue_depths(app)
    collector = ScrapeTimeCollector(queue_depths, outbox_lag, touchless)

    def metrics_view() -> Any:
        body, content_type = render(collector)
        return Response(body, status=200, content_type=content_type)

    app.add_url_rule("/metrics", "metrics", metrics_view, methods=["GET"])

    @app.after_request
    def _count(response: Any) -> Any:
        rule = request.url_rule.rule if request.url_rule is not None else "unmatched"
        if rule != "/metrics":
            count_http_request(request.method, rule, response.status_code)
        return response


def _default_queue_depths(app: Any) -> Callable[[], Mapping[str, int]]:
    def read() -> Mapping[str, int]:
        config = app.extensions["claims"].config
        return redis_queue_depths(config.redis_url, config.queues)

    return read


def seconds_since(moment: Any) -> float:
    """Helper for outbox_lag callables: seconds from an aware datetime to now."""
    if moment is None:
        return 0.0
    return max(time.time() - moment.timestamp(), 0.0)
