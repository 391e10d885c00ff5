"""Passwords in database and Redis URLs never reach `claims config`, logs or errors."""

from __future__ import annotations

import pytest

from service.config import mask_url

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql+psycopg://app:s3cret@db/claims", "postgresql+psycopg://app:****@db/claims"),
        (
            "postgresql+psycopg://db/claims?user=app&password=s3cret&sslmode=require",
            "postgresql+psycopg://db/claims?user=app&password=****&sslmode=require",
        ),
        ("redis://:pw@cache:6379/0?Password=x", "redis://:****@cache:6379/0?Password=****"),
        ("rediss://cache:6380/0?ssl_cert_reqs=none", "rediss://cache:6380/0?ssl_cert_reqs=none"),
        ("sqlite:////var/lib/claims/claims.db", "sqlite:////var/lib/claims/claims.db"),
    ],
)
def test_passwords_are_masked_wherever_the_url_carries_them(url, masked):
    assert mask_url(url) == masked
    assert "s3cret" not in mask_url(url)
