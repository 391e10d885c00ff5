"""The Notifier the use cases send through: email over SMTP (service/adapters/smtp.py) and
webhooks over HTTP (service/adapters/webhooks.py), their failures sorted into those worth
another try and those that are not (service.ports.Permanent)."""

from __future__ import annotations

from service.adapters import smtp, webhooks
from service.config import Config
from service.logs import redact
from service.ports import Email, Permanent, Transient


class SmtpWebhookNotifier:
    def __init__(self, config: Config) -> None:
        self.config = config

    def send_email(self, email: Email) -> None:
        try:
            smtp.SmtpSender.from_config(self.config).send(email)
        except Exception as exc:
            if smtp.is_permanent(exc):
                raise Permanent(f"SMTP refused: {exc}") from exc
            raise

    def post_webhook(self, url: str, headers: dict[str, str], body: str) -> None:
        """POST once, to an address the SSRF check lets through (CALLBACK_ALLOW_PRIVATE,
        CALLBACK_ALLOWLIST): the host is resolved once and the connection made to the
        address that was checked (no DNS rebinding). 2xx is done, 5xx/408/429 and an
        unresolvable host are worth another try, anything else is permanent."""
        try:
            result = webhooks.post(
                url,
                headers,
                body,
                allow_private=self.config.callback_allow_private,
                allowlist=self.config.callback_allowlist,
            )
        except webhooks.CallbackRefused as exc:
            raise (Transient if exc.transient else Permanent)(exc.reason) from exc
        if 200 <= result.status < 300:
            return
        if webhooks.is_retryable(result.status):
            raise Transient(f"HTTP {result.status}")
        # masked before it is cut: half an address would slip past the mask
        raise Permanent(f"HTTP {result.status}: {redact(result.body)[:200]}")
