from __future__ import annotations

import json
import time

from flask import current_app
from flask_smorest import Blueprint
from marshmallow import Schema, fields
from sqlalchemy.exc import SQLAlchemyError

from wp_bridge.db import utcnow
from wp_bridge.job_runs import freshest_scheduler
from wp_bridge.migrations import schema_status
from wp_bridge.users import wordpress_warnings

from ..runtime import runtime
from ..version import __version__

blp = Blueprint("health", __name__, url_prefix="/api/v1", description="Liveness and readiness (unsigned)")


class HealthSchema(Schema):
    status = fields.String(metadata={"example": "ok"})
    database = fields.String(metadata={"example": "ok"})
    schema_version = fields.Integer(allow_none=True)
    version = fields.String()
    scheduler = fields.Dict(allow_none=True, metadata={
        "description": '{"heartbeat_age_seconds", "next_runs": {job: ISO time}}; null when no scheduler ever ran'})
    warnings = fields.List(fields.String(), metadata={
        "description": "what in WordPress's data makes the sidecar fail closed (no super admins, unreadable roles)"})


@blp.route("/health")
@blp.response(200, HealthSchema)
@blp.alt_response(503, schema=HealthSchema, description="the database does not answer")
@blp.doc(security=[])
def health():
    rt = runtime()
    try:
        with rt.engine.connect() as conn:
            version = schema_status(conn, rt.network)
            beat = freshest_scheduler(conn, rt.network_tables) if version else None
            warnings = _warnings(conn, rt) if version else []
    except SQLAlchemyError:
        return {"status": "unavailable", "database": "unavailable", "schema_version": None, "version": __version__,
                "scheduler": None, "warnings": []}, 503
    scheduler = None if beat is None else {
        "heartbeat_age_seconds": round((utcnow() - beat.heartbeat_at).total_seconds(), 1),
        "next_runs": json.loads(beat.next_runs or "{}"),
    }
    return {"status": "ok", "database": "ok", "schema_version": version, "version": __version__, "scheduler": scheduler,
            "warnings": warnings}


# Health is polled (a container's HEALTHCHECK, load balancers); the warnings read every capabilities value
# of the network: each app (process) looks again at most once a minute.
WARNINGS_TTL_SECONDS = 60


def _warnings(conn, rt) -> list[str]:
    read_at, warnings = current_app.extensions.get("lop_sidecar_warnings", (float("-inf"), []))
    if time.monotonic() - read_at >= WARNINGS_TTL_SECONDS:
        warnings = wordpress_warnings(conn, rt.network)
        current_app.extensions["lop_sidecar_warnings"] = (time.monotonic(), warnings)
    return warnings


class LiveSchema(Schema):
    status = fields.String(metadata={"example": "ok"})


@blp.route("/health/live")
@blp.response(200, LiveSchema)
@blp.doc(security=[])
def live():
    """Liveness: the process answers. No database access, so a database outage does not restart it."""
    return {"status": "ok"}
