"""The application factory. Nothing connects to a database, Redis or the engine at import."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.json.provider import DefaultJSONProvider
from flask_smorest import Api

from service import __version__
from service.api.parsing import install_path_checks
from service.api.problems import http_exception_problem, install_problem_handlers
from service.config import Config, load
from service.usecases.check_health import outbox_lag_seconds
from service.usecases.context import Context, build_context
from service.usecases.read_touchless import touchless_today


class ClaimsApi(Api):
    """flask-smorest, answering every HTTP error as RFC 9457 problem+json."""

    def handle_http_exception(self, error: Any) -> Any:
        return http_exception_problem(error)


class JSONProvider(DefaultJSONProvider):
    sort_keys = False


def create_app(config: Config | None = None, context: Context | None = None) -> Flask:
    config = config or load()
    app = Flask(__name__, instance_path=config.instance_dir)
    app.json = JSONProvider(app)
    install_path_checks(app)  # before any route: path parameters are checked text
    app.config.update(
        MAX_CONTENT_LENGTH=config.max_body_bytes,
        MAX_JSON_DEPTH=config.max_json_depth,
        MAX_BODY_DRAIN_BYTES=config.max_body_drain_bytes,
        SECRET_KEY=config.secret_key,
        API_TITLE="Claim adjudication service",
        API_VERSION=__version__,
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        API_SPEC_OPTIONS={
            "info": {"description": "Intake, automatic adjudication and follow-up of claims."}
        },
    )
    app.extensions["claims"] = context or build_context(config, _dispatcher(config))
    if config.proxy_count:  # client address and scheme as the trusted proxies saw them
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = int(config.proxy_count)
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n)  # type: ignore[method-assign]

    from service.logs import install_request_logging
    from service.metrics import install_metrics

    install_request_logging(app)
    ctx = app.extensions["claims"]
    install_metrics(
        app,
        outbox_lag=lambda: outbox_lag_seconds(ctx),
        touchless=lambda: touchless_today(ctx),
    )

    from service.api import (
        apikeys,
        audit,
        claims,
        decisions,
        documents,
        escalations,
        health,
        outbox_admin,
        policies,
        reports,
        rulesets,
    )
    from service.api.auth import init_auth, install_security_scheme
    from service.api.console import install_console
    from service.api.parsing import install_body_checks

    install_body_checks(app)
    init_auth(app, config)
    api = ClaimsApi(app)
    install_security_scheme(api)
    for blueprint in (
        health.blp,
        claims.blp,
        documents.blp,
        policies.blp,
        escalations.blp,
        decisions.blp,
        audit.blp,
        apikeys.blp,
        outbox_admin.blp,
        reports.blp,
        rulesets.blp,
    ):
        api.register_blueprint(blueprint)
    install_console(app)
    from service.api.fhir import install_fhir

    install_fhir(app)
    install_problem_handlers(app)
    return app


def _dispatcher(config: Config) -> Any:
    from service.adapters.queue import RQDispatcher

    return RQDispatcher(config.redis_url, background=True)
