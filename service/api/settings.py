from __future__ import annotations

import datetime as dt

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from rules.rights import (
    PERIODS,
    PERMISSIONS,
    RIGHTS_TYPES,
    settings_from_json,
    settings_to_json,
    types_of_school,
)
from rules.roles import MANAGERS, Role
from rules.school_year import resolve_year
from wp_bridge.effects import WordPressEffects
from wp_bridge.schools import require_school
from wp_bridge.settings import load_settings, save_settings
from wp_bridge.sites import SETTINGS_OPTION
from wp_bridge.users import load_site_and_user

from ..errors import ApiError
from ..rights import Rights
from ..runtime import db, runtime
from . import id_field, json_body, responds, with_site, write_transaction

blp = Blueprint("settings", __name__, url_prefix="/api/v1",
                description="Per-type free-registration starts and school-admin rights; rights previews")

_PERIODS_DOC = {p: fields.List(fields.String(validate=validate.OneOf(PERMISSIONS))) for p in PERIODS}
PeriodRightsSchema = Schema.from_dict(_PERIODS_DOC, name="PeriodRights")


class SettingsSchema(Schema):
    free_registration_start = fields.Dict(
        keys=fields.String(validate=validate.OneOf(RIGHTS_TYPES)), values=fields.String(allow_none=True),
        metadata={"description": "local Europe/Brussels wall-clock time (YYYY-MM-DDTHH:MM), or with a UTC offset; "
                                 "null = not set", "example": {"BaO": "2027-03-01T09:00", "SO": None}})
    rights = fields.Dict(keys=fields.String(validate=validate.OneOf(RIGHTS_TYPES)),
                         values=fields.Nested(PeriodRightsSchema))
    settings_review_required = fields.Boolean(dump_only=True)
    automatic_rollover = fields.Boolean(metadata={"description": "optional in PUT (kept when absent); default true"})


class SettingsOutSchema(SettingsSchema):
    free_registration_start_utc = fields.Dict(keys=fields.String(), values=fields.String(allow_none=True))
    review_reasons = fields.List(fields.String())


def _settings_json(conn, access) -> dict:
    stored = load_settings(conn, access.site.prefix)
    return {**settings_to_json(stored.rights, runtime().config.tz),
            "settings_review_required": bool(stored.review.get("required")),
            "review_reasons": stored.review.get("reasons") or [], "automatic_rollover": stored.automatic_rollover}


@blp.route("/sites/<int:site_id>/settings")
class Settings(MethodView):
    @with_site(*MANAGERS)
    @responds(blp, 200, SettingsOutSchema)
    def get(self, site_id, access):
        return _settings_json(db(), access)

    @with_site(*MANAGERS)
    @blp.doc(requestBody={"required": True, "content": {"application/json": {"schema": SettingsSchema}}})
    @responds(blp, 200, SettingsOutSchema)
    def put(self, site_id, access):
        """Replace the settings; every type and period must be present. Saving clears a review request."""
        body = json_body()
        automatic = body.pop("automatic_rollover", None)
        settings, errors = settings_from_json(body, runtime().config.tz)
        if automatic is not None and not isinstance(automatic, bool):
            errors.append({"field": "automatic_rollover", "message": "true of false."})
        if errors:
            raise ApiError(422, "validation_failed",
                           f"De instellingen werden niet bewaard: {len(errors)} fout(en), zie de velden. " + errors[0]["message"], errors=errors)
        with write_transaction() as conn:
            save_settings(conn, access.site.prefix, site_id, access.actor(), settings, automatic)
        effects = WordPressEffects()
        effects.option_changed(site_id, SETTINGS_OPTION)  # the plugin drops it from notoptions/alloptions
        return {**_settings_json(db(), access), "wordpress": effects.as_json()}


class RightsQuerySchema(Schema):
    school = id_field(required=True)
    year = fields.String(load_default="current", metadata={"description": "current, next or a school-year label"})
    at = fields.AwareDateTime(load_default=None, default_timezone=dt.timezone.utc,
                              metadata={"description": "evaluate at another moment (ISO; without offset = UTC)"})
    as_user = id_field(load_default=None, metadata={"description": "operators and LOP experts: preview a user"})


@blp.route("/sites/<int:site_id>/rights")
@with_site(*MANAGERS, Role.SCHOOL_ADMIN)
@blp.arguments(RightsQuerySchema, location="query")
@responds(blp, 200)
def rights(query, site_id, access):
    """What the caller (or, for a LOP expert, ``as_user``) may do on a school's offerings in a year, per rights type."""
    conn = db()
    try:
        year, label = resolve_year(query["year"], access.site.current_school_year)
    except ValueError as exc:
        raise ApiError(422, "validation_failed", str(exc), errors=[{"field": "year", "message": str(exc)}]) from None
    user, role = access.user, access.role
    if query["as_user"] is not None and query["as_user"] != access.user.id:
        if not access.is_manager:
            raise ApiError(403, "forbidden", "Enkel beheerders en LOP-deskundigen kunnen de rechten van iemand anders bekijken.")
        previewed = load_site_and_user(conn, runtime().network, site_id, query["as_user"])
        if previewed.user is None:
            raise ApiError(422, "validation_failed", f"Gebruiker {query['as_user']} bestaat niet.",
                           errors=[{"field": "as_user", "message": "Deze gebruiker bestaat niet."}])
        user, role = previewed.user, previewed.role(runtime().config.role_slugs)
    school = require_school(conn, access.tables, query["school"])
    rights_ = Rights.load(conn, access.site, access.tables, role, user.id, query["at"], runtime().config.tz)
    if role not in MANAGERS and not rights_.can_see(school["id"]):
        raise ApiError(403, "forbidden", "Deze gebruiker is geen beheerder van deze school.")
    types = {}
    for rights_type in types_of_school(school["type"]):
        evaluation = rights_.evaluate(school["id"], year, rights_type)
        types[rights_type] = {
            "period": evaluation.period,
            "permissions": sorted(evaluation.permissions, key=PERMISSIONS.index),
            "changes_at": evaluation.changes_at.isoformat().replace("+00:00", "Z") if evaluation.changes_at else None,
        }
    return {"user": {"id": user.id, "login": user.login, "display_name": user.display_name},
            "role": str(role) if role else None, "school": {"id": school["id"], "name": school["name"], "type": school["type"]},
            "year": year, "school_year": label, "types": types}
