from __future__ import annotations

from flask_smorest import Blueprint
from marshmallow import Schema, fields

from rules.roles import Role
from wp_bridge.users import load_user, roles_on_all_sites

from ..auth import caller
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
    """The LOP sites the caller may see: all of them for an operator, else those where they have a role."""
    rt, conn, who = runtime(), db(), caller()
    user = load_user(conn, rt.network, who.user_id) if who.user_id else None
    if user is None:
        raise ApiError(403, "forbidden", "the site itself or an unknown user has no sites to list")
    sites = [site for site in rt.network.list_sites(conn) if site.enabled]
    if user.login in rt.network.super_admin_logins(conn):
        roles = {site.id: Role.OPERATOR for site in sites}
    else:
        roles = roles_on_all_sites(conn, rt.network, user, rt.config.role_slugs)
    visible = [{**site.as_json(), "role": str(roles[site.id])} for site in sites if site.id in roles]
    if not visible:
        raise ApiError(403, "forbidden", "you have no role on any LOP site")
    return {"sites": visible}
