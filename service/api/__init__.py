"""One blueprint per area of the API, all under /api/v1."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator

from flask import request
from sqlalchemy import Connection

from rules.roles import Role
from rules.school_year import resolve_year
from wp_bridge.locks import release_transaction_locks

from ..auth import site_access
from ..errors import ApiError
from ..runtime import db


def with_site(*roles: Role):
    """Resolve the caller on the ``site_id`` of the URL before the body is parsed, so that a caller without
    the right role gets 403 whatever they send; the view receives it as ``access``."""

    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            access = site_access(kwargs["site_id"])
            if roles:
                access.require(*roles)
            return view(*args, access=access, **kwargs)

        return wrapper

    return decorator


def responds(blp, status: int, schema=None):
    """Document a success response for the OpenAPI document without dumping the body through marshmallow:
    the data layer already builds the documented shape, and a dump cost more than the rest of a request."""
    return blp.alt_response(status, schema=schema, success=True)


@contextlib.contextmanager
def write_transaction() -> Iterator[Connection]:
    """One transaction for a change and its audit rows. It continues the transaction in which the request
    checked access and read what it changes (no extra round trip), and commits or rolls back as a whole."""
    conn = db()
    transaction = conn.get_transaction() or conn.begin()
    try:
        yield conn
    except BaseException:
        transaction.rollback()
        release_transaction_locks(conn)
        raise
    try:
        transaction.commit()
    finally:
        release_transaction_locks(conn)


def json_body() -> dict:
    """The request body as a JSON object, or 422 naming the body."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiError(422, "validation_failed", "the body must be a JSON object",
                       errors=[{"field": None, "location": "body", "message": "expected a JSON object"}])
    return data


def year_param(value: str | None, access) -> tuple[str, str]:
    """``current``, ``next`` or a label of the site's two years → (kind, label); 422 naming ``year`` otherwise."""
    try:
        return resolve_year(value, access.site.current_school_year)
    except ValueError as exc:
        raise ApiError(422, "validation_failed", str(exc), errors=[{"field": "year", "message": str(exc)}]) from None
