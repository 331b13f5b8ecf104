from __future__ import annotations

from flask_smorest import Blueprint
from marshmallow import Schema, fields

from rules.roles import Role

from ..auth import network_caller
from ..errors import ApiError
from ..runtime import db, runtime
from . import responds

blp = Blueprint("sites", __name__, url_prefix="/api/v1", description="The LOP sites of the network")


class SiteSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    url = fields.String()
    current_school_year = fields.String(allow_none=True, metadata={"example": "2026-2027"})
    role = fields.String(metadata={"description": "the caller's role on the site"})


class SiteListSchema(Schema):
    sites = fields.List(fields.Nested(SiteSchema))


@blp.route("/sites")
@responds(blp, 200, SiteListSchema)
def list_sites():
    """The LOP sites the caller may see: all of them for an operator (with their WordPress status), else the
    live ones where they have a role."""
    who = network_caller("the site itself or an unknown user has no sites to list")
    sites = [site for site in runtime().network.list_sites(db()) if site.enabled and (who.operator or site.live)]
    roles = {site.id: Role.OPERATOR for site in sites} if who.operator else who.roles()
    visible = [{**site.as_json(), "role": str(roles[site.id])} for site in sites if site.id in roles]
    if not visible:
        raise ApiError(403, "forbidden", "you have no role on any LOP site")
    return {"sites": visible}
