"""The HTTP service: app factory, blueprints, request authentication and the command line."""

from __future__ import annotations

import logging
import re
import time
import uuid

from flask import Flask, g, request
from flask_smorest import Api
from sqlalchemy.exc import DBAPIError
from werkzeug.routing import IntegerConverter

from rules.ids import MAX_ID

from .api import check_json_body
from .auth import network_caller, verify_signed_request
from .config import Config, load_config
from .errors import document_problems, register_error_handlers
from .runtime import Runtime, close_db, may_retry_request, track_commits
from .version import __version__

MAX_BODY_BYTES = 10 * 1024 * 1024
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
access_log = logging.getLogger("lop_sidecar.access")

# Routes that answer without a signature.
UNSIGNED_ENDPOINTS = {"health.health", "health.live", "api-docs.openapi_json"}


class LopFlask(Flask):
    def dispatch_request(self):
        """The view, retried once when the connection turned out dead before anything was written (a pooled
        connection is only pinged after 10 s idle: wp_bridge/db.py)."""
        try:
            return super().dispatch_request()
        except DBAPIError as error:
            if not may_retry_request(error):
                raise
        for upload in request.files.values():  # the first attempt may have read them
            upload.stream.seek(0)
        return super().dispatch_request()


class LopApi(Api):
    """flask-smorest's Api with errors as problem+json (its own JSON error handler is not used)."""

    def _register_error_handlers(self):
        register_error_handlers(self._app)


class PathIdConverter(IntegerConverter):
    """``<int:…>`` in our routes: an id beyond 2^63 - 1 names nothing that can exist; it becomes 0 (no row
    has id 0), so that it answers exactly as any id that does not exist does (404, or 403 for a school
    admin and a school that is not theirs) instead of overflowing the database driver."""

    def to_python(self, value: str) -> int:
        number = super().to_python(value)
        return number if number <= MAX_ID else 0


def create_app(config: Config | None = None, runtime: Runtime | None = None) -> Flask:
    """The Flask app. Tests pass a Config (or a ready Runtime); production reads the environment."""
    if runtime is None:
        runtime = Runtime.from_config(config or load_config(require_secret=True), serving=True)
    app = LopFlask(__name__)
    app.config.update(
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        API_TITLE="lop-sidecar",
        API_VERSION=__version__,
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
        JSON_SORT_KEYS=False,
    )
    app.json.sort_keys = False
    app.url_map.converters["int"] = PathIdConverter
    app.extensions["lop_sidecar"] = runtime
    track_commits(runtime.engine)
    runtime.read_engine  # noqa: B018 — made now, before a worker's threads share it

    api = LopApi(app, spec_kwargs={"info": {"description": "The LOP sidecar beside the WordPress sites of the LOPs."}})
    api.spec.components.security_scheme(
        "lopSignature",
        {"type": "apiKey", "in": "header", "name": "X-LOP-Signature",
         "description": "HMAC-SHA256 request signature with X-LOP-Timestamp, X-LOP-Nonce, X-LOP-User "
                        "and optional X-LOP-Switched-From (see the README)."},
    )
    api.spec.options["security"] = [{"lopSignature": []}]

    from .api import (
        catalogue,
        exports,
        free_places,
        health,
        jobs,
        log,
        offerings,
        ov,
        rollover,
        school_admins,
        schools,
        settings,
        sites,
    )

    for module in (health, sites, schools, settings, offerings, free_places, catalogue, jobs, rollover, log, exports, ov,
                   school_admins):
        api.register_blueprint(module.blp)
    document_problems(api.spec)

    app.before_request(_before_request)
    app.after_request(_after_request)
    app.teardown_request(close_db)
    return app


def _before_request():
    g.started = time.perf_counter()
    incoming = request.headers.get("X-Request-ID", "")
    g.request_id = incoming if _REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
    if request.endpoint not in UNSIGNED_ENDPOINTS:
        g.caller = verify_signed_request()
        if g.caller.switched_from is not None and "site_id" not in (request.view_args or {}):
            network_caller("switching needs an existing user")  # a network route: is this switch allowed?
        if request.method in ("POST", "PATCH", "PUT") and request.mimetype == "application/json":
            check_json_body()


def _after_request(response):
    response.headers["X-Request-ID"] = g.get("request_id", "")
    caller = g.get("caller")
    access_log.info(
        "%s %s %s %.1fms user=%s%s request_id=%s",
        request.method, request.path, response.status_code, (time.perf_counter() - g.get("started", time.perf_counter())) * 1000,
        caller.user_id if caller else "-", f" switched_from={caller.switched_from}" if caller and caller.switched_from else "",
        g.get("request_id"),
    )
    return response
