"""An API key's name passes the checks of every one-line text field, from the API and the
CLI alike (hardening, finding 14)."""

from __future__ import annotations

import pytest

from service.domain.identity import IdentityError
from service.usecases import manage_api_keys

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("acme\x00", "NUL"),
        ("acme\x1b[31m", r"U\+001B"),
        ("acme\nsecond line", r"U\+000A"),
        ("acme\ud800", "surrogate"),
        (" acme", "spaces"),
    ],
)
def test_a_key_name_with_control_characters_is_refused(ctx, name, words):
    with pytest.raises(IdentityError, match=words):
        manage_api_keys.create_api_key(ctx, name, "intake")
    assert manage_api_keys.list_api_keys(ctx) == []


def test_a_plain_key_name_is_accepted(ctx):
    assert manage_api_keys.create_api_key(ctx, "Acme Insurance Ltd.", "intake").name
