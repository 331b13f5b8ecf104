from __future__ import annotations

from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from wp_bridge.catalogue import get_admgr, item_json, search

from ..errors import ApiError
from ..runtime import db, runtime
from . import responds

blp = Blueprint("catalogue", __name__, url_prefix="/api/v1",
                description="The administrative-group catalogue (synced from AgODi), for the add-programme dialog")


class AdmgrSchema(Schema):
    code = fields.Integer()
    description = fields.String()
    onderwijsniveau = fields.String(allow_none=True)
    onderwijsvorm = fields.String(allow_none=True)
    graad = fields.Integer(allow_none=True)
    leerjaar = fields.Integer(allow_none=True)
    structuuronderdeel = fields.String(allow_none=True)
    stage = fields.String(allow_none=True, metadata={"description": "kleuter, lager, secundair or null (unknown; AN has none)"})
    begin_date = fields.String(allow_none=True)
    end_date = fields.String(allow_none=True)
    active = fields.Boolean()
    inactive_since = fields.String(allow_none=True)


class AdmgrListSchema(Schema):
    items = fields.List(fields.Nested(AdmgrSchema))


class SearchQuerySchema(Schema):
    q = fields.String(load_default=None, metadata={"description": "a code prefix, or words of the description"})
    level = fields.String(load_default=None, metadata={"description": "onderwijsniveau, e.g. BaO or SO"})
    active = fields.Boolean(load_default=True)
    limit = fields.Integer(load_default=20, validate=validate.Range(1, 100))


@blp.route("/catalogue/admgr")
@blp.arguments(SearchQuerySchema, location="query")
@responds(blp, 200, AdmgrListSchema)
def search_admgr(query):
    """Search by code prefix or by every word of the description (case- and accent-insensitive)."""
    rows = search(db(), runtime().network_tables, query["q"], level=query["level"], active=query["active"],
                  limit=query["limit"])
    return {"items": [item_json(row) for row in rows]}


@blp.route("/catalogue/admgr/<int:code>")
@responds(blp, 200, AdmgrSchema)
def get_one(code):
    row = get_admgr(db(), runtime().network_tables, code)
    if row is None:
        raise ApiError(404, "admgr_not_found", f"Administratieve groep {code} staat niet in de catalogus.")
    return item_json(row)
