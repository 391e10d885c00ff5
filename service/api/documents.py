"""/v1/claims/<id>/documents: documents arriving after intake."""

from __future__ import annotations

from typing import Any

from flask import current_app, g
from marshmallow import fields, validate

from service.api.auth import requires
from service.api.caller import current_actor, source_address, visible_client_id
from service.api.parsing import Blueprint
from service.api.problems import Problem
from service.api.schemas import ClaimOutSchema, DocumentSchema, StrictSchema
from service.usecases.add_documents import ClaimNotFound, TooManyDocuments, add_documents

blp = Blueprint("documents", __name__, url_prefix="/v1/claims", description="Documents")


class DocumentsSchema(StrictSchema):
    documents = fields.List(
        fields.Nested(DocumentSchema), required=True, validate=validate.Length(min=1, max=100)
    )


@blp.route("/<claim_id>/documents", methods=["POST"])
@requires("intake", "supervisor", "admin")
@blp.arguments(DocumentsSchema())
@blp.response(200, ClaimOutSchema)
def post_documents(data: dict[str, Any], claim_id: str) -> Any:
    """Attach documents; a claim waiting for them is decided again at once."""
    try:
        result = add_documents(
            current_app.extensions["claims"],
            claim_id,
            data["documents"],
            client_id=visible_client_id(),
            actor=current_actor(),
            request_id=g.get("request_id"),
            source=source_address(),
        )
    except ClaimNotFound:
        raise Problem(404, "No claim with this id.", code="not_found") from None
    except TooManyDocuments as exc:
        raise Problem(422, str(exc), code="too_many_documents") from None
    return result.document
