"""One blueprint per area of the API, all under /api/v1."""

from __future__ import annotations

import base64
import contextlib
import functools
import json
import re
from collections.abc import Iterator

from flask import request
from marshmallow import fields, validate
from sqlalchemy import Connection
from werkzeug.exceptions import BadRequest

from rules.ids import MAX_ID, is_id
from rules.roles import Role
from rules.school_year import resolve_year
from wp_bridge.locks import release_transaction_locks

from ..auth import site_access
from ..errors import ApiError
from ..runtime import write_db


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
    conn = write_db()
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


def id_field(*, minimum: int = 1, **kwargs) -> fields.Integer:
    """A query or body parameter that is an id: beyond 2^63 - 1 or below ``minimum`` it is 422 naming it."""
    return fields.Integer(validate=validate.Range(minimum, MAX_ID, error=f"een id van {minimum} tot en met {MAX_ID}"),
                          error_messages={"invalid": "een geheel getal"}, **kwargs)


def utc_text(value) -> str | None:
    """A stored UTC time (naive) as the API writes times: ISO 8601 with ``Z``."""
    return value.isoformat() + "Z" if value else None


def decode_cursor(cursor: str | None) -> int | None:
    """The id a list continues before, from the ``cursor`` query parameter (a ``next_cursor`` this API gave);
    422 naming ``cursor`` otherwise."""
    if not cursor:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        before = data["before"]
        if not is_id(before):
            raise ValueError("not an id")
        return before
    except (ValueError, KeyError, TypeError, RecursionError):
        message = "geen geldige cursor: gebruik de next_cursor van de vorige pagina"
        raise ApiError(422, "validation_failed", f"cursor: {message}",
                       errors=[{"field": "cursor", "location": "query", "message": message}]) from None


def encode_cursor(before_id: int | None) -> str | None:
    """``next_cursor`` of a page: None on the last page."""
    if before_id is None:
        return None
    return base64.urlsafe_b64encode(json.dumps({"before": before_id}).encode()).decode().rstrip("=")


MAX_JSON_DEPTH = 32
MULTILINE_FIELDS = frozenset({"extra_info"})  # every other text is one line
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_MULTILINE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def check_json_body() -> None:
    """Every JSON body, before any route reads it: parsed once with a depth limit (a body nested 1,000 deep
    is 422, never a RecursionError), with no lone surrogate in any string and no control character in a
    one-line text (``extra_info`` may hold line breaks and tabs); 422 naming the field otherwise. A PATCH or
    PUT needs a body."""
    if not request.get_data(cache=True).strip():
        if request.method in ("PATCH", "PUT"):
            raise _body_error(None, "de aanvraag heeft geen inhoud: verwacht een JSON-object")
        return
    try:
        data = request.get_json()  # parsed once: json_body() and webargs read Flask's cached result
    except RecursionError:
        raise _body_error(None, f"de JSON is dieper genest dan {MAX_JSON_DEPTH} niveaus") from None
    except BadRequest:
        raise _body_error(None, "dit is geen geldige JSON") from None
    bad = _bad_json_value(data)
    if bad:
        raise _body_error(*bad)


def _body_error(field: str | None, message: str) -> ApiError:
    return ApiError(422, "validation_failed", f"{field}: {message}" if field else message,
                    errors=[{"field": field, "location": "body", "message": message}])


def _bad_json_value(data) -> tuple[str, str] | None:
    """(field path, Dutch message) of the first value no route may receive; None when all is well."""
    stack = [(data, "", 0, False)]
    while stack:
        value, path, depth, multiline = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return path or "body", f"de JSON is dieper genest dan {MAX_JSON_DEPTH} niveaus"
        if isinstance(value, str):
            if _SURROGATE.search(value):
                return path or "body", "bevat een ongeldig Unicode-teken (een losse surrogaat)"
            if (_CONTROL_MULTILINE if multiline else _CONTROL).search(value):
                return path or "body", ("bevat een stuurteken" if multiline
                                        else "bevat een regeleinde of stuurteken; hier hoort één regel tekst")
        elif isinstance(value, dict):
            for key, item in value.items():
                key_path = f"{path}.{key}" if path else str(key)
                if _SURROGATE.search(key) or _CONTROL.search(key):
                    return path or "body", "een veldnaam bevat een ongeldig teken"
                stack.append((item, key_path, depth + 1, key in MULTILINE_FIELDS))
        elif isinstance(value, list):
            stack.extend((item, f"{path}[{i}]", depth + 1, multiline) for i, item in enumerate(value))
    return None


def json_body() -> dict:
    """The request body as a JSON object, or 422 naming the body."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiError(422, "validation_failed", "De inhoud van de aanvraag moet een JSON-object zijn.",
                       errors=[{"field": None, "location": "body", "message": "Verwacht een JSON-object."}])
    return data


def year_param(value: str | None, access) -> tuple[str, str]:
    """``current``, ``next`` or a label of the site's two years → (kind, label); 422 naming ``year`` otherwise."""
    try:
        return resolve_year(value, access.site.current_school_year)
    except ValueError as exc:
        raise ApiError(422, "validation_failed", str(exc), errors=[{"field": "year", "message": str(exc)}]) from None
