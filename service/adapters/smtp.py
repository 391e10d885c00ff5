"""The one module that speaks SMTP: host, port, STARTTLS, AUTH; text + HTML parts.

Errors are left as raised by smtplib / the socket; `is_permanent` tells the
delivery loop which ones no retry will fix (5xx replies).

Connections are reused: each process (and thread) keeps at most one open SMTP
session and sends message after message over it, so a busy worker pays the TCP
connect, EHLO, STARTTLS and AUTH once rather than per message. A session idle
for a while is checked with NOOP before use; any error while sending closes it
(the next message opens a fresh one); it is recycled after `MAX_MESSAGES` messages
or `MAX_AGE` seconds, and `close_connections()` (also run at exit) sends QUIT.
A forked child never uses its parent's socket.
"""

from __future__ import annotations

import atexit
import io
import os
import smtplib
import ssl
import threading
import time
from dataclasses import dataclass
from email import policy as email_policy
from email.generator import BytesGenerator
from email.message import EmailMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formataddr, formatdate, parseaddr
from typing import Any

from service.config import Config
from service.ports import Email


@dataclass(frozen=True)
class SmtpSender:
    host: str
    port: int
    sender: str
    user: str = ""
    password: str = ""
    starttls: bool = False
    timeout: float = 30.0

    @classmethod
    def from_config(cls, config: Config) -> SmtpSender:
        return cls(
            host=config.smtp_host,
            port=config.smtp_port,
            sender=config.smtp_from,
            user=config.smtp_user,
            password=config.smtp_password,
            starttls=config.smtp_starttls,
        )

    def build(self, email: Email) -> EmailMessage:
        msg = EmailMessage()
        msg["From"] = self.sender
        msg["To"] = ", ".join(email.to)
        msg["Subject"] = email.subject
        msg["Date"] = formatdate(localtime=False, usegmt=True)
        if email.message_id:
            msg["Message-ID"] = email.message_id
        msg.set_content(email.text)
        if email.html:
            msg.add_alternative(email.html, subtype="html")
        msg["Content-Language"] = email.language  # after set_content, which drops Content-*
        return msg

    def connect(self) -> smtplib.SMTP:
        """A new session: connect, EHLO, STARTTLS (certificate checked) and AUTH as configured."""
        client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            client.ehlo()
            if self.starttls:
                client.starttls(context=ssl.create_default_context())
                client.ehlo()
            if self.user:
                client.login(self.user, self.password)
        except BaseException:
            _close(client)
            raise
        return client

    def to_bytes(self, email: Email) -> bytes:
        """The message as sent (CRLF line ends), built with the quicker compat32 MIME classes
        (text parts in base64, 7-bit clean; about a third of `build`'s cost). Empty when an
        address is not ASCII: `send` then uses `build` so smtplib can use SMTPUTF8."""
        if not all(parseaddr(a)[1].isascii() for a in (self.sender, *email.to)):
            return b""
        msg = MIMEMultipart("alternative")
        msg["From"] = _address(self.sender)
        msg["To"] = ", ".join(_address(a) for a in email.to)
        msg["Subject"] = email.subject
        msg["Date"] = formatdate(localtime=False, usegmt=True)
        if email.message_id:
            msg["Message-ID"] = email.message_id
        msg["Content-Language"] = email.language
        msg.attach(MIMEText(email.text, "plain", "utf-8"))
        if email.html:
            msg.attach(MIMEText(email.html, "html", "utf-8"))
        out = io.BytesIO()
        BytesGenerator(out, policy=_WIRE).flatten(msg, linesep="\r\n")
        return out.getvalue()

    def send(self, email: Email, reuse: bool = True) -> None:
        """Send one message, over this process's open session when `reuse` (the default)."""
        if not email.to:
            raise ValueError("no recipient")
        data = self.to_bytes(email)
        to = list(email.to)

        def transmit(client: smtplib.SMTP) -> None:
            if data:
                client.sendmail(self.sender, to, data)
            else:
                client.send_message(self.build(email), from_addr=self.sender, to_addrs=to)

        if not reuse:
            client = self.connect()
            try:
                transmit(client)
            finally:
                _quit(client)
            return
        client = _cache.acquire(self)
        try:
            transmit(client)
        except BaseException:
            _cache.discard()  # unknown state (reply error, timeout, job killed): start afresh
            raise
        _cache.release()


class _WirePolicy(email_policy.Compat32):
    """compat32, except that an ASCII value without spaces (Message-ID) is never folded:
    compat32 would move it to a continuation line, which changes it for some readers."""

    def _fold(self, name: str, value: Any, sanitize: bool) -> str:
        if isinstance(value, str) and value.isascii() and not any(c.isspace() for c in value):
            return f"{name}: {value}{self.linesep}"
        return str(super()._fold(name, value, sanitize))


_WIRE = _WirePolicy(linesep="\r\n")


def _address(value: str) -> str:
    """ "Name <addr>" with only the display name encoded, never the address."""
    name, addr = parseaddr(value)
    return formataddr((name, addr), charset="utf-8") if name else addr


MAX_MESSAGES = 200  # messages per session before a fresh one
MAX_AGE = 300.0  # seconds a session is kept at most
IDLE_CHECK = 5.0  # a session idle longer than this is checked with NOOP before use


@dataclass
class _Session:
    sender: SmtpSender
    client: smtplib.SMTP
    pid: int
    opened: float
    used: float
    messages: int = 0


class _ConnectionCache(threading.local):
    """One open SMTP session per process and thread, for the last sender used."""

    session: _Session | None = None

    def acquire(self, sender: SmtpSender) -> smtplib.SMTP:
        now = time.monotonic()
        current = self.session
        if current is not None and current.pid != os.getpid():
            self.session = current = None  # inherited over fork: the parent's socket, not ours
        if current is not None and (
            current.sender != sender
            or current.messages >= MAX_MESSAGES
            or now - current.opened > MAX_AGE
            or (now - current.used > IDLE_CHECK and not _alive(current.client))
        ):
            self.close()
            current = None
        if current is None:
            current = self.session = _Session(sender, sender.connect(), os.getpid(), now, now)
        return current.client

    def release(self) -> None:
        if self.session is not None:
            self.session.messages += 1
            self.session.used = time.monotonic()

    def discard(self) -> None:
        if self.session is not None:
            _close(self.session.client)
            self.session = None

    def close(self) -> None:
        if self.session is not None:
            if self.session.pid == os.getpid():
                _quit(self.session.client)
            self.session = None


_cache = _ConnectionCache()


def close_connections() -> None:
    """QUIT this thread's open session, if any (worker shutdown; also run at exit)."""
    _cache.close()


atexit.register(close_connections)


def _alive(client: smtplib.SMTP) -> bool:
    try:
        return client.noop()[0] == 250
    except Exception:  # noqa: BLE001 - any failure means: open a new session
        return False


def _quit(client: smtplib.SMTP) -> None:
    try:
        client.quit()
    except Exception:  # noqa: BLE001 - the server may be gone already
        _close(client)


def _close(client: smtplib.SMTP) -> None:
    try:
        client.close()
    except Exception:  # noqa: BLE001
        pass


def is_permanent(exc: BaseException) -> bool:
    """5xx replies (bad recipient, rejected message, failed auth) will not heal by retrying."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return bool(codes) and all(code >= 500 for code in codes)
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code >= 500
    return isinstance(exc, ValueError)
