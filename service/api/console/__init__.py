"""The supervisors' console: server-rendered pages (Flask + Jinja2), no build step."""

from __future__ import annotations

from flask import Flask


def install_console(app: Flask) -> None:
    from service.api.console import messages  # noqa: F401 - its routes join bp
    from service.api.console.headers import install_headers
    from service.api.console.views import bp

    app.register_blueprint(bp)
    install_headers(app)  # app-wide: also on responses no console route matched
