"""The one module that speaks SMTP: host, port, STARTTLS, AUTH; text + HTML parts.

Errors are left as raised by smtplib / the socket; `is_permanent` tells the
delivery loop which ones no retry will fix (5xx replies).
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any


@dataclass(frozen=True)
class Email:
    to: tuple[str, ...]
    subject: str
    text: str
    html: str | None = None
    message_id: str | None = None  # stable per outbox row, so mail systems can dedupe
    language: str = "en"


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
    def from_config(cls, config: Any) -> SmtpSender:
        return cls(
            host=config.SMTP_HOST,
            port=int(config.SMTP_PORT),
            sender=config.SMTP_FROM,
            user=config.SMTP_USER,
            password=config.SMTP_PASSWORD,
            starttls=bool(config.SMTP_STARTTLS),
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

    def send(self, email: Email) -> None:
        if not email.to:
            raise ValueError("no recipient")
        message = self.build(email)
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as client:
            client.ehlo()
            if self.starttls:
                client.starttls(context=ssl.create_default_context())
                client.ehlo()
            if self.user:
                client.login(self.user, self.password)
            client.send_message(message, from_addr=self.sender, to_addrs=list(email.to))


def is_permanent(exc: BaseException) -> bool:
    """5xx replies (bad recipient, rejected message, failed auth) will not heal by retrying."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return bool(codes) and all(code >= 500 for code in codes)
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code >= 500
    return isinstance(exc, ValueError)
