"""Problem responses (RFC 9457, ``application/problem+json``) with a stable machine ``code``."""

from __future__ import annotations

import logging
import re
import traceback
from http import HTTPStatus

from flask import Flask, g, json, make_response
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException

from wp_bridge.errors import DataError, database_error_number, describe_database_error, is_transient

log = logging.getLogger("lop_sidecar.errors")

PROBLEM_JSON = "application/problem+json"

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
}


# A request body can name a million bad items: an answer lists at most this many (``errors_total`` counts
# them all). Imports list every error (a file holds at most 5,000 rows): they pass ``error_limit=None``.
MAX_ERRORS = 50


class ApiError(Exception):
    def __init__(self, status: int, code: str, detail: str, *, errors: list[dict] | None = None,
                 headers: dict | None = None, errors_total: int | None = None, error_limit: int | None = MAX_ERRORS):
        super().__init__(detail)
        self.status, self.code, self.detail, self.errors, self.headers = status, code, detail, errors, headers
        self.errors_total, self.error_limit = errors_total, error_limit


def problem(status: int, code: str, detail: str, *, errors: list[dict] | None = None, headers: dict | None = None,
            errors_total: int | None = None, error_limit: int | None = MAX_ERRORS):
    body = {"type": "about:blank", "status": status, "title": HTTPStatus(status).phrase, "detail": detail, "code": code}
    request_id = g.get("request_id")
    if request_id:
        body["request_id"] = request_id
    if errors is not None:
        body["errors"] = errors if error_limit is None else errors[:error_limit]
        body["errors_total"] = len(errors) if errors_total is None else errors_total
    response = make_response(json.dumps(body, ensure_ascii=False), status)
    response.content_type = PROBLEM_JSON
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


# marshmallow's and webargs' messages (English) as the plugin shows them: Dutch. Fixed texts by lookup,
# the formatted ones (Range, Length, OneOf) by pattern; anything unknown passes unchanged.
_DUTCH = {
    "Missing data for required field.": "Verplicht veld.",
    "Field may not be null.": "Mag niet leeg (null) zijn.",
    "Invalid value.": "Ongeldige waarde.",
    "Invalid type.": "Ongeldig type.",
    "Invalid input type.": "Ongeldig type invoer.",
    "Unknown field.": "Onbekend veld.",
    "Not a valid list.": "Geen geldige lijst.",
    "Not a valid tuple.": "Geen geldige reeks.",
    "Not a valid string.": "Geen geldige tekst.",
    "Not a valid utf-8 string.": "Geen geldige UTF-8-tekst.",
    "Not a valid number.": "Geen geldig getal.",
    "Number too large.": "Getal te groot.",
    "Not a valid integer.": "Geen geldig geheel getal.",
    "Special numeric values (nan or infinity) are not permitted.": "Speciale getallen (nan, oneindig) zijn niet toegelaten.",
    "Not a valid boolean.": "Geen geldige waarde: true of false.",
    "Not a valid date.": "Geen geldige datum: geef een datum als 2027-03-02.",
    "Not a valid datetime.": "Geen geldige datum en uur: geef een datum en uur als 2027-03-02T09:00.",
    "Not a valid email address.": "Geen geldig e-mailadres.",
    "Not a valid URL.": "Geen geldige URL.",
    "Not a valid UUID.": "Geen geldige UUID.",
    "Not a valid mapping type.": "Geen geldig object.",
}
_DUTCH_PATTERNS = [
    (re.compile(r"Must be greater than or equal to (\S+) and less than or equal to (\S+)\."), r"Moet tussen \1 en \2 liggen."),
    (re.compile(r"Must be greater than or equal to (\S+)\."), r"Moet minstens \1 zijn."),
    (re.compile(r"Must be less than or equal to (\S+)\."), r"Mag hoogstens \1 zijn."),
    (re.compile(r"Must be greater than (\S+)\."), r"Moet groter zijn dan \1."),
    (re.compile(r"Must be less than (\S+)\."), r"Moet kleiner zijn dan \1."),
    (re.compile(r"Shorter than minimum length (\S+)\."), r"Te kort: minstens \1 tekens."),
    (re.compile(r"Longer than maximum length (\S+)\."), r"Te lang: hoogstens \1 tekens."),
    (re.compile(r"Length must be between (\S+) and (\S+)\."), r"Lengte tussen \1 en \2."),
    (re.compile(r"Length must be (\S+)\."), r"Lengte moet \1 zijn."),
    (re.compile(r"Must be one of: (.*)\.", re.DOTALL), r"Moet een van deze zijn: \1."),
]


def dutch(message: str) -> str:
    if message in _DUTCH:
        return _DUTCH[message]
    for pattern, replacement in _DUTCH_PATTERNS:
        if pattern.fullmatch(message):
            return pattern.sub(replacement, message)
    return message


# The detail of an HTTP error that carries no message of ours.
_STATUS_DETAILS = {
    400: "De aanvraag is ongeldig.",
    401: "De aanvraag is niet ondertekend.",
    403: "Dit mag je niet.",
    404: "Dit bestaat niet.",
    405: "Deze methode is hier niet toegelaten.",
    406: "Dit formaat kan niet geleverd worden.",
    409: "Dit botst met de huidige toestand.",
    413: "De aanvraag is te groot.",
    415: "Dit type inhoud wordt niet aanvaard.",
    429: "Te veel aanvragen: probeer het straks opnieuw.",
}


def flatten_validation_messages(messages, path: str = "") -> list[dict]:
    """webargs/marshmallow nest messages by location and field; list them as ``{"field", "message"}``."""
    errors: list[dict] = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            if not path and key in ("json", "query", "form", "files", "headers", "view_args"):
                sub = flatten_validation_messages(value, "")
                for item in sub:
                    item["location"] = "body" if key in ("json", "form", "files") else key
                errors.extend(sub)
                continue
            key_text = f"[{key}]" if isinstance(key, int) or str(key).isdigit() else str(key)
            joined = f"{path}{key_text}" if key_text.startswith("[") or not path else f"{path}.{key_text}"
            errors.extend(flatten_validation_messages(value, joined))
    elif isinstance(messages, (list, tuple)):
        if all(isinstance(m, str) for m in messages):
            errors.extend({"field": path or None, "message": dutch(m)} for m in messages)
        else:
            for item in messages:
                errors.extend(flatten_validation_messages(item, path))
    else:
        errors.append({"field": path or None, "message": dutch(str(messages))})
    return errors


def http_exception_problem(error: HTTPException):
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    messages = data.get("messages") or data.get("errors")
    if status == 422 and messages:
        errors = flatten_validation_messages(messages)
        fields = ", ".join(sorted({e["field"] for e in errors if e.get("field")}))
        detail = f"Ongeldige aanvraag: {fields}." if fields else "Ongeldige aanvraag."
        return problem(422, "validation_failed", detail, errors=errors)
    detail = data.get("message") or _STATUS_DETAILS.get(status) or HTTPStatus(status).phrase
    headers = dict(error.get_headers()) if status == 405 else None
    if headers:
        headers = {k: v for k, v in headers.items() if k.lower() == "allow"}
    return problem(status, _HTTP_CODES.get(status, "http_error"), detail, headers=headers)


PROBLEM_SCHEMA = {
    "type": "object",
    "required": ["type", "status", "title", "detail", "code"],
    "properties": {
        "type": {"type": "string"}, "status": {"type": "integer"}, "title": {"type": "string"},
        "detail": {"type": "string", "description": "in Dutch: the plugin shows it as it is"},
        "code": {"type": "string", "description": "stable machine code"},
        "request_id": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object", "properties": {
            "field": {"type": "string", "nullable": True}, "message": {"type": "string"},
            "location": {"type": "string"}, "row": {"type": "integer", "nullable": True},
            "column": {"type": "string", "nullable": True}}}},
        "errors_total": {"type": "integer"},
    },
}


def document_problems(spec) -> None:
    """Every operation of the OpenAPI document answers its errors as problem+json: a ``default`` response
    with that schema, so that the description is true for every status the service can give."""
    spec.components.schema("Problem", PROBLEM_SCHEMA)
    problem_response = {"description": "an error, as application/problem+json (RFC 9457)",
                        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
    for operations in spec._paths.values():
        for method, operation in operations.items():
            if method in ("get", "post", "put", "patch", "delete"):
                responses = operation.setdefault("responses", {})
                for status in [s for s in responses if str(s).isdigit() and int(s) >= 400]:
                    responses[status] = problem_response  # flask-smorest documents its 422 as plain JSON
                responses["default"] = problem_response


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(ApiError, lambda e: problem(e.status, e.code, e.detail, errors=e.errors, headers=e.headers,
                                                           errors_total=e.errors_total, error_limit=e.error_limit))
    app.register_error_handler(DataError, lambda e: problem(e.status, e.code, e.detail))
    app.register_error_handler(HTTPException, http_exception_problem)
    app.register_error_handler(DBAPIError, _database_error)
    app.register_error_handler(Exception, _unexpected)


# Text that a WordPress table's charset cannot hold (an emoji into utf8mb3, "Ω" into latin1): strict mode
# refuses it (1366 "Incorrect string value"); never stored mangled.
_NOT_STORABLE_ERRNOS = {1366}
_COLUMN = re.compile(r"for column `[^`]*`\.`([^`]*)`\.`([^`]*)`")


def _database_error(error: DBAPIError):
    if database_error_number(error) in _NOT_STORABLE_ERRNOS and "string value" in (getattr(error.orig, "msg", "") or ""):
        column = _COLUMN.search(getattr(error.orig, "msg", "") or "")
        where = f"kolom {column.group(2)} van de WordPress-tabel {column.group(1)}" if column else "een WordPress-tabel"
        log.warning("text not storable: %s (request %s)", describe_database_error(error), g.get("request_id"))
        return problem(422, "text_not_storable",
                       f"De tekst bevat tekens die {where} niet kan bewaren (de tabel gebruikt een oudere tekenset). "
                       "Er is niets gewijzigd; laat de speciale tekens (zoals emoji) weg.")
    if not is_transient(error):
        return _unexpected(error)
    log.warning("database unavailable: %s (request %s)", describe_database_error(error), g.get("request_id"))
    if g.get("db_committed"):  # the change was stored before the connection went: saying otherwise invites a duplicate
        return problem(503, "database_unavailable", "De verbinding met de databank viel weg nadat de wijziging bewaard werd. "
                                                    "Herlaad de pagina om te controleren voor je het opnieuw probeert.",
                       headers={"Retry-After": "5"})
    # Nothing was written (the transaction rolled back); the caller may retry.
    return problem(503, "database_unavailable", "De databank antwoordt niet: er is niets gewijzigd. Probeer het over enkele seconden opnieuw.",
                   headers={"Retry-After": "5"})


def _unexpected(error: Exception):
    # Where it happened and, for a database error, what the server said with its values redacted; never
    # the message of other exceptions, SQL, parameters or bodies (they can carry values and secrets).
    frames = "; ".join(f"{f.filename.rsplit('/', 2)[-1]}:{f.lineno} {f.name}" for f in traceback.extract_tb(error.__traceback__)[-6:])
    said = f": {describe_database_error(error)}" if isinstance(error, DBAPIError) else ""
    log.error("unhandled %s%s (request %s) at %s", type(error).__name__, said, g.get("request_id"), frames)
    return problem(500, "internal_error", "Er ging iets mis in de LOP-service; de fout werd gelogd. Probeer het later opnieuw.")
