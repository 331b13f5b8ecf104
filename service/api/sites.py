from __future__ import annotations

from flask_smorest import Blueprint
from marshmallow import Schema, fields

from rules.roles import Role
from wp_bridge.site_admin import refuse_purge_of_existing_site, site_table_names

from ..auth import network_caller
from ..errors import ApiError
from ..runtime import db, runtime
from . import responds
from .jobs import queue_run

blp = Blueprint("sites", __name__, url_prefix="/api/v1", description="The LOP sites of the network")


class SiteSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    url = fields.String()
    current_school_year = fields.String(allow_none=True, metadata={"example": "2026-2027"})
    role = fields.String(metadata={"description": "the caller's role on the site"})
    status = fields.String(metadata={"description": "live, or archived/spam/deleted in WordPress (operators only see those)"})


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
        raise ApiError(403, "forbidden", "Je hebt geen rol op een LOP-site.")
    return {"sites": visible}


@blp.route("/sites/<int:site_id>/purge", methods=["POST"])
@responds(blp, 202)
def purge(site_id):
    """Operators: archive the log of a site WordPress deleted, then drop its LOP tables (the plugin calls this
    from WordPress's ``wp_delete_site`` action). 409 ``site_exists`` while WordPress still has the site."""
    who = network_caller("Enkel operatoren kunnen een site opruimen.")
    if not who.operator:
        raise ApiError(403, "forbidden", "Enkel operatoren kunnen een site opruimen.")
    refuse_purge_of_existing_site(db(), runtime().network, site_id)
    if not site_table_names(db(), runtime().network, site_id):
        raise ApiError(404, "site_not_found", f"Site {site_id} heeft geen LOP-tabellen: er is niets op te ruimen.")
    return {"id": queue_run("site-purge", site_id), "status": "queued"}, 202
