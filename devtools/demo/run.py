"""`python -m devtools.demo run [--once] [--fresh] [--port N]` (`make demo`): the whole
job on this machine, end to end, on the same instance folder the `claims` CLI uses.

In order: hold the instance folder (one demo per folder), check the API's port (a bind
probe: a program holding it receives nothing), start a private redis-server (or use
REDIS_URL when you give one; never a server it did not start otherwise) and a mail
catcher that keeps every letter, migrate, create the console users and an intake key,
start `claims serve`, `claims worker` and `claims scheduler`, check that the server
answering is the one it started (a per-run nonce read back from /healthz) and only then
send the sample policies and claims. It prints the decisions, waits for the letters,
says what to try next, and keeps running until Ctrl-C (with --once it stops there).
Nothing is deleted on exit.
"""

from __future__ import annotations

import secrets
import signal
import sys
import time
from typing import Any

import requests

from devtools.demo import bootstrap
from devtools.demo.children import Children
from devtools.demo.ending import print_ending
from devtools.demo.place import Place
from devtools.demo.ports import choose_port
from devtools.demo.submit import submit_samples
from devtools.localservices import (
    ServiceError,
    redis_answers,
    say,
    start_mail_catcher,
    start_private_redis,
)
from service.config import Config, ConfigError, load, mask_url
from service.usecases.context import build_context
from service.usecases.read_messages import delivery_counts

READY_SECONDS = 90
LETTERS_SECONDS = 30


def run_demo(once: bool, fresh: bool, port: int, explicit_port: bool, env: dict[str, str]) -> int:
    _sigterm_as_interrupt()
    try:
        config = load(env)
    except ConfigError as exc:
        print(f"error: configuration: {exc}", file=sys.stderr)
        return 2
    place = Place.from_config(config)
    children = Children(place.logs)
    try:
        lock = place.lock()  # noqa: F841 - held until the process exits
        if fresh:
            place.wipe()
            say(f"--fresh: deleted {place.describe_database()} and {place.folder}")
        place.prepare()
        api_port = choose_port(port, explicit_port)
        return 0 if _run(config, place, children, env, api_port, once) else 1
    except ServiceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print()
        say("stopping everything the demo started (the data stays)")
        return 0
    finally:
        children.stop()


def _run(
    config: Config, place: Place, children: Children, env: dict[str, str], port: int, once: bool
) -> bool:
    say(f"database: {place.describe_database()} (what `claims …` here uses too)")
    redis_url = _redis(env, place, children)
    smtp_port = start_mail_catcher(place.mail, place.log("mail"), children.services)
    say(f"mail: a local mail catcher on port {smtp_port} keeps every letter in {place.mail}")
    children.env = {
        **env,
        "INSTANCE_DIR": str(place.instance),
        "REDIS_URL": redis_url,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_port),
        "LOG_FORMAT": "text",
    }
    _write_env(place, children.env)
    bootstrap.migrate(config)
    key = bootstrap.identities(config, place.folder / "intake-key")

    nonce = secrets.token_hex(16)
    base = f"http://127.0.0.1:{port}"
    say(f"starting the API (claims serve --port {port} --workers 2), a worker and the scheduler")
    children.start("api", "serve", "--port", str(port), "--workers", "2", INSTANCE_ID=nonce)
    children.start("worker", "worker")
    children.start("scheduler", "scheduler")
    if not _wait_for_our_api(base, nonce, children):
        return False
    _report_background(children)

    ok = submit_samples(base, key)
    _wait_for_letters(config)
    print_ending(base, key, place, once)
    if once:
        return ok
    api = children.procs["api"]
    while api.poll() is None:
        time.sleep(1)
    say(f"the API stopped (exit {api.returncode}); see {children.log('api')}")
    return False


def _redis(env: dict[str, str], place: Place, children: Children) -> str:
    """REDIS_URL when you give one (it must answer), else a redis-server of the demo's own."""
    given = env.get("REDIS_URL", "").strip()
    if given:
        if not redis_answers(given):
            raise ServiceError(
                f"REDIS_URL={mask_url(given)} does not answer: start that Redis, or unset "
                "REDIS_URL and the demo runs a redis-server of its own"
            )
        say(f"Redis: {mask_url(given)} (from REDIS_URL)")
        return given
    return start_private_redis(place.folder / "redis", children.services, place.log("redis"))


def _write_env(place: Place, env: dict[str, str]) -> None:
    names = ("INSTANCE_DIR", "REDIS_URL", "SMTP_HOST", "SMTP_PORT")
    lines = [f"{name}={env[name]}" for name in names]
    (place.folder / "env").write_text(
        "# This demo's settings, for a shell: set -a; . instance/demo/env; set +a\n"
        + "\n".join(lines)
        + "\n"
    )


def _wait_for_our_api(base: str, nonce: str, children: Children) -> bool:
    """Ready when /healthz names this run's nonce and /readyz answers 200. Anything else
    answering on the port is another program: stop before sending it a single claim."""
    api = children.procs["api"]
    started = time.monotonic()
    next_note = 10.0
    while time.monotonic() - started < READY_SECONDS:
        if api.poll() is not None:
            print(f"error: the API exited with {api.returncode}; last lines of its log:")
            print(children.tail("api"))
            return False
        try:
            health = requests.get(f"{base}/healthz", timeout=2)
        except requests.RequestException:
            health = None
        if health is not None:
            if _instance(health) != nonce:
                raise ServiceError(
                    f"{base} answers, but it is not the API this demo started (another "
                    "program took the port): stopping before sending it anything"
                )
            if requests.get(f"{base}/readyz", timeout=5).status_code == 200:
                say(f"API ready at {base} ({time.monotonic() - started:.1f}s; checked: ours)")
                return True
        if time.monotonic() - started > next_note:
            say(f"waiting for {base}/readyz ... {next_note:.0f}s")
            next_note += 10
        time.sleep(0.25)
    log = children.log("api")
    print(f"error: {base}/readyz did not answer 200 within {READY_SECONDS}s; see {log}")
    return False


def _instance(response: requests.Response) -> str | None:
    try:
        body: Any = response.json()
    except ValueError:
        return None
    return body.get("instance") if isinstance(body, dict) else None


def _report_background(children: Children) -> None:
    time.sleep(0.5)
    for name in ("worker", "scheduler"):
        proc = children.procs[name]
        if proc.poll() is not None:
            say(
                f"{name} did not start (exit {proc.returncode}); continuing with the API alone. "
                f"Last line: {children.tail(name, 1)}"
            )


def _wait_for_letters(config: Config) -> None:
    """Until the worker has sent what the samples caused (or LETTERS_SECONDS pass)."""
    ctx = build_context(config)
    deadline = time.monotonic() + LETTERS_SECONDS
    counts = delivery_counts(ctx)
    while time.monotonic() < deadline:
        counts = delivery_counts(ctx)
        if not any(counts.get(state) for state in ("pending", "enqueued", "sending")):
            break
        time.sleep(0.5)
    waiting = sum(counts.get(s, 0) for s in ("pending", "enqueued", "sending"))
    note = f", {waiting} still waiting" if waiting else ""
    dead = f", {counts['dead']} failed for good" if counts.get("dead") else ""
    say(f"letters and webhooks: {counts.get('sent', 0)} sent{note}{dead}")


def _sigterm_as_interrupt() -> None:
    def handler(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    try:
        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with it ignored
    except ValueError:  # not the main thread
        pass
