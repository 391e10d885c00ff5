"""Settings, read once from the environment (12-factor), validated at start-up.

Every variable the service reads is declared in SETTINGS: the README's
configuration table, `claims config` and the compose-file test all come
from here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

PROJECT_ROOT = Path(__file__).resolve().parents[1]


class ConfigError(ValueError):
    """A setting has a value the service cannot use. The message is one readable line."""


@dataclass(frozen=True)
class Setting:
    name: str
    default: str
    help: str
    kind: str = "str"  # str | int | bool | float | url | path | list
    secret: bool = False


SETTINGS: tuple[Setting, ...] = (
    Setting("DATABASE_URL", "", "SQLAlchemy URL; empty = SQLite file instance/claims.db", "url"),
    Setting("REDIS_URL", "redis://127.0.0.1:6379/0", "Redis for RQ queues and rate limits", "url"),
    Setting("RULES_DIR", "", "Folder of rule files; empty = the project's rules/", "path"),
    Setting(
        "RULES_WATCH_SECONDS",
        "2",
        "How often each process looks for edited rules; 0 = never",
        "float",
    ),
    Setting(
        "SHADOW_RULES_DIR", "", "Candidate ruleset run beside the live one; empty = off", "path"
    ),
    Setting(
        "INSTANCE_DIR", "", "Folder for the SQLite file and reports; empty = ./instance", "path"
    ),
    Setting("MAX_BODY_BYTES", "1048576", "Largest request body accepted (413 above)", "int"),
    Setting(
        "MAX_BODY_DRAIN_BYTES",
        "8388608",
        "Bytes of a refused (413) body read and discarded so the client can read the answer",
        "int",
    ),
    Setting("MAX_JSON_DEPTH", "32", "Deepest nesting of arrays/objects in a JSON body", "int"),
    Setting("MAX_REQUEST_LINE", "4094", "Longest request line (method, path, query)", "int"),
    Setting("MAX_HEADER_FIELDS", "100", "Most header fields in one request", "int"),
    Setting("MAX_HEADER_BYTES", "8190", "Longest header field (name and value)", "int"),
    Setting(
        "PROXY_COUNT",
        "0",
        "Reverse proxies in front whose X-Forwarded-For/-Proto are trusted (0 = none)",
        "int",
    ),
    Setting("PAGE_SIZE_MAX", "200", "Largest page a list endpoint returns", "int"),
    Setting("IDEMPOTENCY_TTL_HOURS", "48", "How long Idempotency-Key replays are kept", "int"),
    Setting("LOG_LEVEL", "INFO", "Logging level", "str"),
    Setting("LOG_FORMAT", "json", "json or text", "str"),
    Setting(
        "SECRET_KEY", "dev-only-change-me", "Signs console sessions and CSRF tokens", secret=True
    ),
    Setting("SMTP_HOST", "127.0.0.1", "SMTP server for claimant email", "str"),
    Setting("SMTP_PORT", "25", "SMTP port", "int"),
    Setting("SMTP_FROM", "claims@example.com", "From address of outgoing email", "str"),
    Setting("SMTP_USER", "", "SMTP login (empty = no AUTH)", "str"),
    Setting("SMTP_PASSWORD", "", "SMTP password", "str", secret=True),
    Setting("SMTP_STARTTLS", "false", "Upgrade the SMTP connection with STARTTLS", "bool"),
    Setting(
        "WEBHOOK_SECRET", "dev-webhook-secret", "Default HMAC secret for webhooks", secret=True
    ),
    Setting("WEBHOOK_MAX_ATTEMPTS", "6", "Delivery tries before a message is dead", "int"),
    Setting("CALLBACK_ALLOW_PRIVATE", "false", "Allow loopback/private callback URLs", "bool"),
    Setting(
        "CALLBACK_ALLOWLIST", "", "Comma-separated hosts allowed despite being private", "list"
    ),
    Setting("SWEEP_INTERVAL_SECONDS", "30", "Seconds between the scheduler's sweeps", "float"),
    Setting("DIGEST_HOUR_UTC", "7", "Hour (UTC) the daily digest goes out", "int"),
    Setting(
        "RETRY_BASE_SECONDS", "30", "First retry delay; doubles each try, with jitter", "float"
    ),
    Setting("RETRY_CAP_SECONDS", "3600", "Longest delay between two delivery tries", "float"),
    Setting("DELIVERY_BATCH_SIZE", "50", "Outbox rows delivered per worker job", "int"),
    Setting(
        "DELIVERY_LEASE_SECONDS", "300", "How long a worker owns a message it is sending", "int"
    ),
    Setting(
        "WEBHOOK_CLIENT_SECRETS",
        "",
        "Per intake client webhook secrets, client:secret,...",
        "list",
        secret=True,
    ),
    Setting("QUEUES", "notifications,followups,reports", "Queues a worker listens on", "list"),
    Setting("REMINDER_DAYS", "2,3", "Days after a document request to remind", "list"),
    Setting("ABANDON_AFTER_DAYS", "10", "Days pending before escalation or closure", "int"),
    Setting("ABANDON_ACTION", "escalate", "escalate or close when documents never come", "str"),
    Setting("ESCALATION_SLA_HOURS", "48", "Hours a supervisor has to decide", "int"),
    Setting("APPEAL_ANSWER_DAYS", "3", "Days to answer an appeal", "int"),
    Setting("DIGEST_RECIPIENTS", "", "Comma-separated emails for the daily digest", "list"),
    Setting("SUPERVISOR_LEAD_EMAIL", "", "Who hears about SLA breaches", "str"),
    Setting(
        "REG_ACK_DAYS",
        "15",
        "Statutory days to acknowledge a claim (10 CCR 2695.5); 0 = off",
        "int",
    ),
    Setting(
        "REG_DECIDE_DAYS", "40", "Statutory days to accept or deny (10 CCR 2695.7); 0 = off", "int"
    ),
    Setting(
        "REG_STATUS_EVERY_DAYS",
        "30",
        "Days between status letters while a claim is open; 0 = off",
        "int",
    ),
    Setting(
        "REG_WARN_AT", "0.8", "Share of a statutory deadline used when the lead is warned", "float"
    ),
    Setting("RATE_LIMIT", "600/minute", "Per-key request rate limit", "str"),
    Setting(
        "API_KEY_CACHE_SECONDS",
        "5",
        "How long a process trusts an API key it looked up (a revocation elsewhere "
        "takes effect within this; 0 looks up every request)",
        "int",
    ),
    Setting(
        "SESSION_COOKIE_SECURE",
        "false",
        "Mark the console cookie Secure even when a request does not arrive over HTTPS "
        "(it always is under HTTPS)",
        "bool",
    ),
    Setting("SESSION_HOURS", "8", "Console sessions end this many hours after login", "int"),
    Setting(
        "SESSION_IDLE_MINUTES", "30", "Console sessions end after this long without use", "int"
    ),
    Setting("SESSION_RETENTION_DAYS", "7", "Days an ended session's record is kept", "int"),
    Setting("LOGIN_LOCK_AFTER", "10", "Failed logins for one username before a lock", "int"),
    Setting(
        "LOGIN_ADDRESS_LOCK_AFTER",
        "50",
        "Failed logins from one client address before a lock",
        "int",
    ),
    Setting("LOGIN_LOCK_MINUTES", "15", "How long a locked username or address waits", "int"),
    Setting(
        "LOGIN_DELAY_SECONDS",
        "1",
        "Wait after the 3rd failure for a username; doubles with each further one",
        "float",
    ),
    Setting("PURGE_BATCH_SIZE", "1000", "Rows deleted per statement by the purge sweep", "int"),
)
_BY_NAME = {s.name: s for s in SETTINGS}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


@dataclass(frozen=True)
class Config:
    values: Mapping[str, Any] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.values[name.upper()]
        except KeyError as exc:
            raise AttributeError(name) from exc

    def masked(self) -> dict[str, str]:
        """Effective settings for `claims config`, secrets and URL passwords hidden."""
        out = {}
        for s in SETTINGS:
            value = self.values[s.name]
            text = ",".join(value) if isinstance(value, list) else str(value)
            if s.secret and text:
                text = "****"
            elif s.kind == "url":
                text = mask_url(text)
            out[s.name] = text
        return out


def load(env: Mapping[str, str] | None = None, **overrides: Any) -> Config:
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    for s in SETTINGS:
        raw = env.get(s.name, s.default)
        values[s.name] = _parse(s, raw)
    for key, value in overrides.items():
        if key.upper() not in _BY_NAME:
            raise ConfigError(f"unknown setting {key}")
        values[key.upper()] = value
    _derive(values)
    return Config(values)


def _parse(s: Setting, raw: str) -> Any:
    raw = raw.strip()
    if s.kind == "int":
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"{s.name}={raw!r} is not a whole number") from None
    if s.kind == "float":
        try:
            return float(raw)
        except ValueError:
            raise ConfigError(f"{s.name}={raw!r} is not a number") from None
    if s.kind == "bool":
        if raw.lower() in _TRUE:
            return True
        if raw.lower() in _FALSE:
            return False
        raise ConfigError(f"{s.name}={raw!r} is not true or false")
    if s.kind == "list":
        return [part.strip() for part in raw.split(",") if part.strip()]
    if s.kind == "url" and raw:
        scheme = urlsplit(raw).scheme
        if not scheme or "://" not in raw:
            raise ConfigError(f"{s.name}={mask_url(raw)!r} is not a URL (expected scheme://...)")
    return raw


def _derive(values: dict[str, Any]) -> None:
    instance = Path(values["INSTANCE_DIR"] or Path.cwd() / "instance")
    values["INSTANCE_DIR"] = str(instance)
    if not values["DATABASE_URL"]:
        values["DATABASE_URL"] = f"sqlite:///{instance / 'claims.db'}"
    db_scheme = urlsplit(values["DATABASE_URL"]).scheme
    if db_scheme.split("+")[0] not in {"sqlite", "postgresql", "postgres"}:
        raise ConfigError(f"DATABASE_URL scheme {db_scheme!r} is not sqlite or postgresql")
    if db_scheme in {"postgres", "postgresql"}:  # psycopg 3 is the driver we ship
        values["DATABASE_URL"] = "postgresql+psycopg" + values["DATABASE_URL"][len(db_scheme) :]
    if not urlsplit(values["REDIS_URL"]).scheme.startswith("redis"):
        raise ConfigError("REDIS_URL must start with redis:// or rediss://")
    values["RULES_DIR"] = values["RULES_DIR"] or str(PROJECT_ROOT / "rules")
    if values["ABANDON_ACTION"] not in {"escalate", "close"}:
        raise ConfigError("ABANDON_ACTION must be escalate or close")
    if values["LOG_FORMAT"] not in {"json", "text"}:
        raise ConfigError("LOG_FORMAT must be json or text")
    for name in (
        "MAX_BODY_BYTES",
        "PAGE_SIZE_MAX",
        "IDEMPOTENCY_TTL_HOURS",
        "MAX_JSON_DEPTH",
        "MAX_REQUEST_LINE",
        "MAX_HEADER_FIELDS",
        "MAX_HEADER_BYTES",
        "SESSION_HOURS",
        "SESSION_IDLE_MINUTES",
        "LOGIN_LOCK_AFTER",
        "LOGIN_ADDRESS_LOCK_AFTER",
        "LOGIN_LOCK_MINUTES",
        "PURGE_BATCH_SIZE",
    ):
        if values[name] <= 0:
            raise ConfigError(f"{name} must be positive")
    for name in ("MAX_BODY_DRAIN_BYTES", "PROXY_COUNT", "SESSION_RETENTION_DAYS"):
        if values[name] < 0:
            raise ConfigError(f"{name} must be 0 or more")
    for name, top in (
        ("MAX_REQUEST_LINE", 8190),
        ("MAX_HEADER_FIELDS", 32768),
        ("MAX_HEADER_BYTES", 65536),
    ):
        if values[name] > top:
            raise ConfigError(f"{name} must be at most {top} (gunicorn's own limit)")
    if values["API_KEY_CACHE_SECONDS"] < 0:
        raise ConfigError("API_KEY_CACHE_SECONDS must be 0 or more")


def mask_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":****@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url
