from __future__ import annotations

import hashlib
import threading

import orjson
from flask import make_response, request
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from rules.free_places import build_table
from rules.rights import RIGHTS_TYPES
from wp_bridge.offerings import data_version, public_rows
from wp_bridge.schools import list_schools

from ..runtime import db, runtime
from . import responds, with_site, year_param

blp = Blueprint("free_places", __name__, url_prefix="/api/v1",
                description="The public free-places table (signed by the site itself, user 0)")

CACHE_CONTROL = "public, max-age=30, must-revalidate"

# The last table built per (app, site, year, type), reused while the data version stays the same: during
# registration week the same table is asked for far more often than it changes.
_built: dict[tuple, tuple[str, bytes]] = {}
_built_lock = threading.Lock()
# One build per table at a time in a process: the requests that arrive together after a change wait for the
# first one's table instead of each building it (bench/registration_week.py: with 4 threads per worker the
# same table was built up to 4 times over, each build slower for sharing the interpreter).
_building: dict[tuple, threading.Lock] = {}


def _build_lock(key: tuple) -> threading.Lock:
    with _built_lock:
        return _building.setdefault(key, threading.Lock())


class FreePlacesQuerySchema(Schema):
    year = fields.String(load_default="current", metadata={"description": "current, next or a school-year label"})
    type = fields.String(load_default=None, validate=validate.OneOf(RIGHTS_TYPES),
                         metadata={"description": "only schools of this type (1A/1B: SO schools, first-year columns)"})


@blp.route("/sites/<int:site_id>/free-places")
@with_site()
@blp.arguments(FreePlacesQuerySchema, location="query")
@responds(blp, 200)
def free_places(query, site_id, access):
    """The free-places table parents read: ``{"site_id", "year", "school_year", "programmes": {code: {"name",
    "onderwijsvorm", "graad", "leerjaar"}}, "schools": [{"id", "name", "type", "vestigingen", "columns":
    [{"admgr_code", "capacity", "free_places", "suffix", "extra_info", "dates"}], "an": {"capacity",
    "free_places"} | null}]}``. Strong ETag; ``If-None-Match`` gives 304."""
    year, label = year_param(query["year"], access)
    conn, nt = db(), runtime().network_tables
    version = data_version(conn, access.tables, nt)
    etag = '"fp-' + hashlib.sha256(f"{site_id}|{label}|{query['type']}|{version}".encode()).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL}
    if etag in [tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")]:
        response = make_response("", 304)
        response.headers.update(headers)
        return response
    key = (id(runtime()), site_id, label, query["type"])
    cached = _built.get(key)
    if cached and cached[0] == etag:
        body = cached[1]
    else:
        with _build_lock(key):
            cached = _built.get(key)  # built by the request this one waited for?
            if cached and cached[0] == etag:
                body = cached[1]
            else:
                body = _build(conn, access, nt, site_id, year, label, query["type"])
                with _built_lock:
                    _built[key] = (etag, body)
    response = make_response(body, 200)
    response.content_type = "application/json"
    response.headers.update(headers)
    return response


def _build(conn, access, nt, site_id: int, year: str, label: str, type_: str | None) -> bytes:
    rows, programmes = public_rows(conn, access.tables, nt, label)
    table = build_table(list_schools(conn, access.tables), rows, programmes, type_)
    shown = {code for school in table for code in [c["admgr_code"] for c in school["columns"]]}
    document = {"site_id": site_id, "year": year, "school_year": label,
                "programmes": {str(code): programmes[code] for code in sorted(shown) if code in programmes},
                "schools": table}
    # orjson: the stdlib encoder took a quarter of a cold build of a 200-school table (README, Dependencies)
    return orjson.dumps(document)
