"""Settings: read once from the environment (12-factor), typed, validated at start-up.

`Config` declares every variable the service reads, once: its name (the field, in
upper case in the environment), its type (the annotation), its default and what it
changes (`setting(...)`). `SETTINGS` is generated from that declaration; the
README's configuration table (scripts/config_table.py), `claims config` and the
compose-file test all read it. `load()` parses and checks every value, so a bad
setting stops the process at start-up with one readable line (ConfigError).
"""

from __future__ import annotations

import dataclasses
import os
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from service.domain.calendar import is_time_zone

PROJECT_ROOT = Path(__file__).resolve().parents[1]


class ConfigError(ValueError):
    """A setting has a value the service cannot use. The message is one readable line."""


def setting(default: str, help: str, *, kind: str = "", secret: bool = False) -> typing.Any:
    """Declare a setting: its default as written in the environment, what it changes,
    a kind when the type says too little (url, path), whether it is a secret."""
    return field(metadata={"default": default, "help": help, "kind": kind, "secret": secret})


@dataclass(frozen=True)
class Config:
    """The effective settings; build with `load()`."""

    database_url: str = setting(
        "", "SQLAlchemy URL; empty = SQLite file instance/claims.db", kind="url"
    )
    db_statement_timeout_ms: int = setting(
        "20000",
        "PostgreSQL statement_timeout of the service's sessions, ms (below gunicorn's 30 s; "
        "0 = none); over it: 503",
    )
    db_lock_timeout_ms: int = setting(
        "5000", "PostgreSQL lock_timeout: longest wait for a row lock, ms (0 = none); over it: 503"
    )
    redis_url: str = setting(
        "redis://127.0.0.1:6379/0", "Redis for RQ queues and rate limits", kind="url"
    )
    rules_dir: str = setting("", "Folder of rule files; empty = the project's rules/", kind="path")
    rules_watch_seconds: float = setting(
        "2", "How often each process looks for edited rules; 0 = never"
    )
    shadow_rules_dir: str = setting(
        "", "Candidate ruleset run beside the live one; empty = off", kind="path"
    )
    rules_max_files: int = setting("200", "Most rule files in a rules folder")
    rules_max_file_bytes: int = setting("524288", "Largest rule file, in bytes")
    rules_max_total_bytes: int = setting("2097152", "Most bytes of all rule files together")
    rules_max_depth: int = setting("32", "Deepest nesting of lists and mappings in a rule file")
    rules_max_conditions: int = setting(
        "100", "Most fact comparisons in one rule (each `in` value counts; at most 500)"
    )
    rules_max_rules: int = setting("1000", "Most rules in a ruleset, all files together")
    rules_max_fee_rows: int = setting(
        "100000", "Most rows of all fee schedules (rules/fee_schedules/*.csv) together"
    )
    rules_compile_seconds: float = setting(
        "10", "Time a candidate ruleset may take to check and compile (child process; at most 25)"
    )
    rules_compile_memory_mb: int = setting(
        "1024", "Memory (address space, MiB) the child process checking a candidate may use"
    )
    instance_dir: str = setting(
        "", "Folder for the SQLite file and reports; empty = ./instance", kind="path"
    )
    max_body_bytes: int = setting("1048576", "Largest request body accepted (413 above)")
    max_body_drain_bytes: int = setting(
        "8388608",
        "Bytes of a refused (413) body read and discarded so the client can read the answer",
    )
    max_json_depth: int = setting("32", "Deepest nesting of arrays/objects in a JSON body")
    max_request_line: int = setting("4094", "Longest request line (method, path, query)")
    max_header_fields: int = setting("100", "Most header fields in one request")
    max_header_bytes: int = setting("8190", "Longest header field (name and value)")
    request_read_timeout: float = setting(
        "10", "Seconds a client has to send its whole request (head and body); 408 after"
    )
    proxy_count: int = setting(
        "0", "Reverse proxies in front whose X-Forwarded-For/-Proto are trusted (0 = none)"
    )
    page_size_max: int = setting("200", "Largest page a list endpoint returns")
    idempotency_ttl_hours: int = setting("48", "How long Idempotency-Key replays are kept")
    log_level: str = setting("INFO", "Logging level")
    log_format: str = setting("json", "json or text")
    secret_key: str = setting(
        "dev-only-change-me", "Signs console sessions and CSRF tokens", secret=True
    )
    smtp_host: str = setting("127.0.0.1", "SMTP server for claimant email")
    smtp_port: int = setting("25", "SMTP port")
    smtp_from: str = setting("claims@example.com", "From address of outgoing email")
    smtp_user: str = setting("", "SMTP login (empty = no AUTH)")
    smtp_password: str = setting("", "SMTP password", secret=True)
    smtp_starttls: bool = setting("false", "Upgrade the SMTP connection with STARTTLS")
    webhook_secret: str = setting(
        "dev-webhook-secret", "Default HMAC secret for webhooks", secret=True
    )
    webhook_max_attempts: int = setting("6", "Delivery tries before a message is dead")
    callback_allow_private: bool = setting("false", "Allow loopback/private callback URLs")
    callback_allowlist: tuple[str, ...] = setting(
        "", "Comma-separated hosts allowed despite being private"
    )
    sweep_interval_seconds: float = setting("30", "Seconds between the scheduler's sweeps")
    digest_hour_utc: int = setting("7", "Hour (UTC) the daily digest goes out")
    retry_base_seconds: float = setting("30", "First retry delay; doubles each try, with jitter")
    retry_cap_seconds: float = setting("3600", "Longest delay between two delivery tries")
    delivery_batch_size: int = setting("50", "Outbox rows delivered per worker job")
    delivery_lease_seconds: int = setting("300", "How long a worker owns a message it is sending")
    webhook_client_secrets: tuple[str, ...] = setting(
        "", "Per intake client webhook secrets, client:secret,...", secret=True
    )
    queues: tuple[str, ...] = setting(
        "notifications,followups,reports", "Queues a worker listens on"
    )
    reminder_days: tuple[int, ...] = setting("2,3", "Days after a document request to remind")
    abandon_after_days: int = setting("10", "Days pending before escalation or closure")
    abandon_action: str = setting("escalate", "escalate or close when documents never come")
    escalation_sla_hours: int = setting("48", "Hours a supervisor has to decide")
    appeal_answer_days: int = setting("3", "Days to answer an appeal")
    default_time_zone: str = setting(
        "UTC", "IANA time zone of report dates for policies without their own time_zone"
    )
    digest_recipients: tuple[str, ...] = setting("", "Comma-separated emails for the daily digest")
    supervisor_lead_email: str = setting("", "Who hears about SLA breaches")
    reg_ack_days: int = setting(
        "15", "Statutory days to acknowledge a claim (10 CCR 2695.5); 0 = off"
    )
    reg_decide_days: int = setting(
        "40", "Statutory days to accept or deny (10 CCR 2695.7); 0 = off"
    )
    reg_status_every_days: int = setting(
        "30", "Days between status letters while a claim is open; 0 = off"
    )
    reg_warn_at: float = setting(
        "0.8", "Share of a statutory deadline used when the lead is warned"
    )
    rate_limit: str = setting("600/minute", "Per-key request rate limit")
    api_key_cache_seconds: int = setting(
        "5",
        "How long a process trusts an API key it looked up (a revocation elsewhere "
        "takes effect within this; 0 looks up every request)",
    )
    audit_signing_key: str = setting(
        "",
        "Ed25519 key that signs audit checkpoints (PEM or base64 of the raw 32 bytes); "
        "wins over AUDIT_SIGNING_KEY_FILE",
        secret=True,
    )
    audit_signing_key_file: str = setting(
        "",
        "PEM file of that key; both empty = a development key generated in INSTANCE_DIR",
        kind="path",
    )
    audit_verify_keys_file: str = setting(
        "",
        "PEM public keys `claims audit verify` trusts besides the signing key's own (older keys; "
        "processes that hold no private key)",
        kind="path",
    )
    audit_checkpoint_dir: str = setting(
        "",
        "Folder the signed audit checkpoints are exported to; empty = INSTANCE_DIR/"
        "audit-checkpoints",
        kind="path",
    )
    audit_checkpoint_seconds: int = setting(
        "300",
        "Seconds between audit checkpoints (the window in which deleting the newest events "
        "goes unseen); 0 = none",
    )
    session_cookie_secure: bool = setting(
        "false",
        "Mark the console cookie Secure even when a request does not arrive over HTTPS "
        "(it always is under HTTPS)",
    )
    session_hours: int = setting("8", "Console sessions end this many hours after login")
    session_idle_minutes: int = setting("30", "Console sessions end after this long without use")
    session_retention_days: int = setting("7", "Days an ended session's record is kept")
    login_lock_after: int = setting("10", "Failed logins for one username before a lock")
    login_address_lock_after: int = setting(
        "50", "Failed logins from one client address before a lock"
    )
    login_lock_minutes: int = setting("15", "How long a locked username or address waits")
    login_delay_seconds: float = setting(
        "1", "Wait after the 3rd failure for a username; doubles with each further one"
    )
    purge_batch_size: int = setting("1000", "Rows deleted per statement by the purge sweep")
    instance_id: str = setting(
        "",
        "Name /healthz reports as `instance`, so a launcher (the demo) can tell the server it "
        "started from another program on the port; empty = not reported",
    )

    def masked(self) -> dict[str, str]:
        """Effective settings for `claims config`, secrets and URL passwords hidden."""
        out = {}
        for s in SETTINGS:
            value = getattr(self, s.name.lower())
            text = ",".join(map(str, value)) if isinstance(value, tuple) else str(value)
            if s.secret and text:
                text = "****"
            elif s.kind == "url":
                text = mask_url(text)
            out[s.name] = text
        return out


@dataclass(frozen=True)
class Setting:
    name: str  # as in the environment
    default: str
    help: str
    kind: str  # str | int | bool | float | url | path | list
    secret: bool = False


_KINDS: dict[object, str] = {
    str: "str",
    int: "int",
    bool: "bool",
    float: "float",
    tuple[str, ...]: "list",
    tuple[int, ...]: "list",
}
_TYPES = typing.get_type_hints(Config)
SETTINGS: tuple[Setting, ...] = tuple(
    Setting(
        name=f.name.upper(),
        default=f.metadata["default"],
        help=f.metadata["help"],
        kind=f.metadata["kind"] or _KINDS[_TYPES[f.name]],
        secret=f.metadata["secret"],
    )
    for f in dataclasses.fields(Config)
)
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def load(env: Mapping[str, str] | None = None, **overrides: object) -> Config:
    """The settings from `env` (default: os.environ), each parsed to its type; `overrides`
    (by environment name, already typed) win. ConfigError names the first bad value."""
    env = os.environ if env is None else env
    values: dict[str, object] = {}
    for s in SETTINGS:
        values[s.name] = _parse(s, _TYPES[s.name.lower()], env.get(s.name, s.default))
    for key, value in overrides.items():
        if key not in values:
            raise ConfigError(f"unknown setting {key}")
        values[key] = value
    _derive(values)
    typed: dict[str, typing.Any] = {name.lower(): value for name, value in values.items()}
    return Config(**typed)


def _parse(s: Setting, wanted: object, raw: str) -> object:
    raw = raw.strip()
    if wanted is int:
        return _number(s, raw, int, "a whole number")
    if wanted is float:
        return _number(s, raw, float, "a number")
    if wanted is bool:
        if raw.lower() in _TRUE:
            return True
        if raw.lower() in _FALSE:
            return False
        raise ConfigError(f"{s.name}={raw!r} is not true or false")
    if s.kind == "list":
        parts = tuple(part.strip() for part in raw.split(",") if part.strip())
        if wanted == tuple[int, ...]:
            return tuple(_number(s, part, int, "a list of whole numbers") for part in parts)
        return parts
    if s.kind == "url" and raw:
        scheme = urlsplit(raw).scheme
        if not scheme or "://" not in raw:
            raise ConfigError(f"{s.name}={mask_url(raw)!r} is not a URL (expected scheme://...)")
    return raw


def _number(s: Setting, raw: str, kind: type[int] | type[float], words: str) -> int | float:
    try:
        return kind(raw)
    except ValueError:
        raise ConfigError(f"{s.name}={raw!r} is not {words}") from None


def _derive(values: dict[str, typing.Any]) -> None:
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
    values["AUDIT_CHECKPOINT_DIR"] = values["AUDIT_CHECKPOINT_DIR"] or str(
        instance / "audit-checkpoints"
    )
    if values["AUDIT_CHECKPOINT_SECONDS"] < 0:
        raise ConfigError("AUDIT_CHECKPOINT_SECONDS must be 0 or more")
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
    for name in ("DB_STATEMENT_TIMEOUT_MS", "DB_LOCK_TIMEOUT_MS"):
        if not 0 <= values[name] < 30_000:
            raise ConfigError(f"{name} must be 0 or more and below 30000 (gunicorn's 30 s)")
    if not 0 < values["REQUEST_READ_TIMEOUT"] <= 25:
        raise ConfigError("REQUEST_READ_TIMEOUT must be above 0 and at most 25 (seconds)")
    if values["API_KEY_CACHE_SECONDS"] < 0:
        raise ConfigError("API_KEY_CACHE_SECONDS must be 0 or more")
    if not is_time_zone(values["DEFAULT_TIME_ZONE"]):
        raise ConfigError(
            f"DEFAULT_TIME_ZONE={values['DEFAULT_TIME_ZONE']!r} is not an IANA time zone name "
            "(e.g. UTC, Europe/Tallinn)"
        )


SECRET_QUERY_KEYS = {"password", "pass", "pwd", "passwd", "secret", "token", "sslpassword"}


def mask_url(url: str) -> str:
    """`url` with the password in its authority and in secret-looking query keys as ****.

    PostgreSQL (libpq) and Redis URLs can carry the password either way:
    `postgresql://u:s3cret@h/db` or `postgresql://h/db?user=u&password=s3cret`.
    """
    parts = urlsplit(url)
    changed = False
    if parts.password:
        parts = parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":****@"))
        changed = True
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    if any(k.lower() in SECRET_QUERY_KEYS for k, _ in pairs):
        masked = [(k, "****" if k.lower() in SECRET_QUERY_KEYS else v) for k, v in pairs]
        parts = parts._replace(query=urlencode(masked, safe="*"))
        changed = True
    return urlunsplit(parts) if changed else url  # urlunsplit would rewrite sqlite:////abs
