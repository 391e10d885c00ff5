"""/v1/apikeys (admin): create (the key is shown once), list, revoke."""

from __future__ import annotations

from typing import Any

from flask import current_app
from marshmallow import Schema, fields, validate

from service.api.auth import requires
from service.api.caller import current_actor, source_address
from service.api.parsing import Blueprint
from service.api.problems import Problem
from service.api.schemas import StrictSchema
from service.domain import identity
from service.usecases import manage_api_keys

blp = Blueprint("apikeys", __name__, url_prefix="/v1/apikeys", description="API keys")


class NewKeySchema(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=64))
    role = fields.String(required=True, validate=validate.OneOf(identity.ROLES))


class KeySchema(Schema):
    prefix = fields.String()
    name = fields.String()
    role = fields.String()
    created_at = fields.String()
    created_by = fields.String()
    last_used_at = fields.String(allow_none=True)
    revoked_at = fields.String(allow_none=True)


class CreatedKeySchema(Schema):
    prefix = fields.String()
    name = fields.String()
    role = fields.String()
    key = fields.String(metadata={"description": "shown once; only a hash is kept"})


def _ctx() -> Any:
    return current_app.extensions["claims"]


@blp.route("", methods=["POST"])
@requires("admin")
@blp.arguments(NewKeySchema())
@blp.response(201, CreatedKeySchema)
def create_key(data: dict[str, Any]) -> Any:
    """Create a key; for role intake the name is the client id its claims belong to."""
    try:
        new = manage_api_keys.create_api_key(
            _ctx(), data["name"], data["role"], actor=current_actor(), source=source_address()
        )
    except identity.IdentityError as exc:
        raise Problem(422, str(exc), code="validation_error") from None
    return new.__dict__


@blp.route("", methods=["GET"])
@requires("admin")
@blp.response(200, KeySchema(many=True))
def list_keys() -> Any:
    """Every key with its prefix, role, last use and revocation (never the secret)."""
    return manage_api_keys.list_api_keys(_ctx())


@blp.route("/<prefix>/revoke", methods=["POST"])
@requires("admin")
@blp.response(204)
def revoke_key(prefix: str) -> Any:
    """Revoke a key at once."""
    if not manage_api_keys.revoke_api_key(_ctx(), prefix, actor=current_actor()):
        raise Problem(404, "No active key with this prefix.", code="not_found")
    return None
