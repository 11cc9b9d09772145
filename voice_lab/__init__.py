"""Voice Lab: a debugging dashboard for realtime voice sessions over WebRTC."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from . import azure_auth, config
from . import storage as store
from .protocol import redaction

PACKAGE = Path(__file__).resolve().parent
ROOT = PACKAGE.parent


INSTALLED = (PACKAGE / "templates").is_dir()


def assets(name: str) -> Path:
    """Where the page assets `name` ("templates" or "static") are: inside the package when
    installed from a wheel, else at the top of the checkout."""
    return PACKAGE / name if INSTALLED else ROOT / name


def instance_folder() -> Path:
    """The folder for the default database: `instance/` at the top of a checkout, or in the
    working directory when installed (not inside the environment's site-packages)."""
    return (Path.cwd() if INSTALLED else ROOT) / "instance"


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: settings (the environment and .env, or the test's own), db, routes."""
    app = Flask(
        __name__,
        instance_relative_config=True,
        instance_path=str(instance_folder()),
        template_folder=str(assets("templates")),
        static_folder=str(assets("static")),
    )
    raw = config.gather_environment() if test_config is None else dict(test_config)
    app.config.update(config.load(raw))
    app.config.update({k: v for k, v in raw.items() if k not in config.DEFAULTS})
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = config.random_secret()
    app.logger.setLevel(logging.INFO)

    store.init_app(app)
    azure_auth.init_app(app)

    from . import cli
    from .exchange import otlp_push
    from .ingest import broker, retention
    from .web import (
        api,
        call,
        compare,
        filters,
        mirror_socket,
        recording,
        replay,
        security,
        session,
        sessions,
    )

    broker.init_app(app)
    app.extensions["voice_lab_retention"] = retention.init_app(app)
    security.init_app(app)
    app.register_blueprint(api.bp)
    app.register_blueprint(call.bp)
    app.register_blueprint(sessions.bp)
    app.register_blueprint(session.bp)
    app.register_blueprint(compare.bp)
    recording.init_app(app)
    app.register_blueprint(replay.bp)
    filters.init_app(app)
    mirror_socket.init_app(app)
    cli.init_app(app)
    otlp_push.init_app(app)
    if app.config["VOICE_LAB_EMULATOR"]:
        from . import emulator

        emulator.init_app(app)
    _guard_secrets(app)  # once every module has made its logger
    return app


def _guard_secrets(app: Flask) -> None:
    """Make every API key the configuration holds (and the access token, whatever its length)
    known, so it is redacted wherever it shows up, and redact the app's and werkzeug's logs."""
    known = app.extensions["voice_lab_secrets"] = redaction.KNOWN_SECRETS
    for name, value in app.config.items():
        if name.endswith("API_KEY") or name == "VOICE_LAB_TOKEN":
            known.add(value, configured=True)
    redaction.guard_logs(app.logger.name)
    redaction.guard_logs("werkzeug")
