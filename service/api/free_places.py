from __future__ import annotations

import hashlib
import threading

from flask import json, make_response, request
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from rules.offerings import AN_ADMGR
from rules.rights import FIRST_YEAR_TYPE, RIGHTS_TYPES
from wp_bridge.offerings import data_version, display_key, site_offerings
from wp_bridge.schools import list_schools

from ..runtime import db, runtime
from . import responds, with_site
from .offerings import _year

blp = Blueprint("free_places", __name__, url_prefix="/api/v1",
                description="The public free-places table (signed by the site itself, user 0)")

CACHE_CONTROL = "public, max-age=30, must-revalidate"
PUBLIC_FIELDS = ("admgr_code", "name", "type", "onderwijsvorm", "graad", "leerjaar", "capacity", "free_places",
                 "suffix", "extra_info", "dates")

# The last table built per (app, site, year, type), reused while the data version stays the same: during
# registration week the same table is asked for far more often than it changes.
_built: dict[tuple, tuple[str, bytes]] = {}
_built_lock = threading.Lock()


class FreePlacesQuerySchema(Schema):
    year = fields.String(load_default="current", metadata={"description": "current, next or a school-year label"})
    type = fields.String(load_default=None, validate=validate.OneOf(RIGHTS_TYPES),
                         metadata={"description": "only schools of this type (1A/1B: SO schools, first-year columns)"})


def build_table(offerings: list[dict], schools: list[dict], type_: str | None) -> list[dict]:
    """Per school in name order: its columns in display order and its AN column (BaO), if any."""
    by_school: dict[int, list[dict]] = {}
    for offering in offerings:
        by_school.setdefault(offering["school_id"], []).append(offering)
    table = []
    for school in schools:
        if type_ == FIRST_YEAR_TYPE and school["type"] != "SO" or type_ not in (None, FIRST_YEAR_TYPE) and school["type"] != type_:
            continue
        rows = sorted(by_school.get(school["id"], []), key=lambda o: display_key(o, school["type"]))
        an = next((o for o in rows if o["admgr_code"] == AN_ADMGR), None)
        columns = [{k: o[k] for k in PUBLIC_FIELDS} for o in rows
                   if o["admgr_code"] != AN_ADMGR and (type_ != FIRST_YEAR_TYPE or o["type"] == FIRST_YEAR_TYPE)]
        table.append({
            "id": school["id"], "name": school["name"], "type": school["type"], "vestigingen": school["vestigingen"],
            "columns": columns,
            "an": {"capacity": an["capacity"], "free_places": an["free_places"]} if an else None,
        })
    return table


@blp.route("/sites/<int:site_id>/free-places")
@with_site()
@blp.arguments(FreePlacesQuerySchema, location="query")
@responds(blp, 200)
def free_places(query, site_id, access):
    """The free-places table parents read. Strong ETag; ``If-None-Match`` gives 304."""
    year, label = _year(query["year"], access)
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
        table = build_table(site_offerings(conn, access.tables, nt, label), list_schools(conn, access.tables), query["type"])
        body = json.dumps({"site_id": site_id, "year": year, "school_year": label, "schools": table}, ensure_ascii=False).encode()
        with _built_lock:
            _built[key] = (etag, body)
    response = make_response(body, 200)
    response.content_type = "application/json"
    response.headers.update(headers)
    return response
