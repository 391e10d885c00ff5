"""FHIR R4 interoperability: Claim in, ClaimResponse out (docs/interop.md)."""

from __future__ import annotations

from flask import Flask


def install_fhir(app: Flask) -> None:
    """The /fhir routes, and OperationOutcome in place of problem+json under /fhir/."""
    from service.api.fhir.outcome import install_operation_outcomes
    from service.api.fhir.views import blp

    app.register_blueprint(blp)
    install_operation_outcomes(app)
