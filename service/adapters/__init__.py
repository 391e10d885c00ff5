"""One adapter per outside thing: durable_rules, RQ, SMTP, webhooks."""
