"""The Notifier the use cases send through: email over SMTP (service/adapters/smtp.py) and
webhooks over HTTP (service/adapters/webhooks.py), their failures sorted into those worth
another try and those that are not (service.ports.Permanent)."""

from __future__ import annotations

from service.adapters import smtp, webhooks
from service.config import Config
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
        CALLBACK_ALLOWLIST); 2xx is done, 5xx/408/429 and an unresolvable host are worth
        another try, anything else is permanent."""
        error = webhooks.check_callback_url(
            url, self.config.callback_allow_private, self.config.callback_allowlist
        )
        if error and "does not resolve" in error:
            raise Transient(error)
        if error:
            raise Permanent(error)
        result = webhooks.post(url, headers, body)
        if 200 <= result.status < 300:
            return
        if webhooks.is_retryable(result.status):
            raise Transient(f"HTTP {result.status}")
        raise Permanent(f"HTTP {result.status}: {result.body[:200]}")
