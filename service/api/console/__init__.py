"""The supervisors' console: server-rendered pages (Flask + Jinja2), no build step."""

from __future__ import annotations

from flask import Flask


def install_console(app: Flask) -> None:
    from service.api.console import headers, messages  # noqa: F401 - their routes and hooks join bp
    from service.api.console.views import bp

    app.register_blueprint(bp)
