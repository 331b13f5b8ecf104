from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from rules.roles import MANAGERS, Role
from rules.schools import (
    INSTELLINGSNUMMER_MAX,
    SCHOOL_NAME_MAX,
    SCHOOL_TYPES,
    VESTIGINGEN_MAX,
    VESTIGINGSNUMMER_MAX,
)
from wp_bridge.effects import WordPressEffects
from wp_bridge.school_admins import linked_admins, revoke_where_unlinked
from wp_bridge.schools import (
    create_school,
    delete_school,
    linked_school_ids,
    list_schools,
    require_school,
    update_school,
)

from ..errors import ApiError
from ..runtime import db, runtime
from . import responds, with_site, write_transaction

blp = Blueprint("schools", __name__, url_prefix="/api/v1", description="Schools of a LOP site")


class TrimmedString(fields.String):
    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize(value, attr, data, **kwargs).strip()


class VestigingSchema(Schema):
    instellingsnummer = fields.Integer(required=True, strict=True, validate=validate.Range(1, INSTELLINGSNUMMER_MAX))
    vestigingsnummer = fields.Integer(required=True, strict=True, validate=validate.Range(0, VESTIGINGSNUMMER_MAX))
    instellingsnummer_text = fields.String(dump_only=True, metadata={"example": "012345"})


class SchoolSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = TrimmedString(required=True, validate=validate.Length(1, SCHOOL_NAME_MAX))
    type = fields.String(required=True, validate=validate.OneOf(SCHOOL_TYPES))
    vestigingen = fields.List(fields.Nested(VestigingSchema), required=True,
                              validate=validate.Length(1, VESTIGINGEN_MAX))
    created_at = fields.String(dump_only=True)
    updated_at = fields.String(dump_only=True)

    @validates_schema
    def _distinct_vestigingen(self, data, **_kwargs):
        # only the complete ones: an incomplete vestiging has its own field errors
        pairs = [(v["instellingsnummer"], v["vestigingsnummer"]) for v in data.get("vestigingen") or []
                 if "instellingsnummer" in v and "vestigingsnummer" in v]
        if len(set(pairs)) != len(pairs):
            raise ValidationError("Dezelfde vestiging staat er twee keer in.", "vestigingen")


class SchoolPatchSchema(SchoolSchema):
    """Any subset of the school's fields; vestigingen, when given, replace the current list (each one complete:
    only the top-level fields are partial)."""


class SchoolListSchema(Schema):
    schools = fields.List(fields.Nested(SchoolSchema))


class DeleteQuerySchema(Schema):
    force = fields.Boolean(load_default=False, metadata={"description": "also delete the school's offerings"})


def _pairs(data: dict) -> dict:
    if "vestigingen" in data:
        data = {**data, "vestigingen": [(v["instellingsnummer"], v["vestigingsnummer"]) for v in data["vestigingen"]]}
    return data


@blp.route("/sites/<int:site_id>/schools")
class Schools(MethodView):
    @with_site(*MANAGERS, Role.SCHOOL_ADMIN)
    @responds(blp, 200, SchoolListSchema)
    def get(self, site_id, access):
        """Schools in name order; a school admin sees only the schools linked to them."""
        if access.is_manager:
            return {"schools": list_schools(db(), access.tables)}
        return {"schools": list_schools(db(), access.tables, linked_school_ids(db(), access.tables, access.user.id))}

    @with_site(*MANAGERS)
    @blp.arguments(SchoolSchema)
    @responds(blp, 201, SchoolSchema)
    def post(self, data, site_id, access):
        with write_transaction() as conn:
            school = create_school(conn, access.tables, site_id, access.actor(), **_pairs(data))
        return school, 201


@blp.route("/sites/<int:site_id>/schools/<int:school_id>")
class School(MethodView):
    @with_site(*MANAGERS, Role.SCHOOL_ADMIN)
    @responds(blp, 200, SchoolSchema)
    def get(self, site_id, school_id, access):
        if not access.is_manager and school_id not in linked_school_ids(db(), access.tables, access.user.id):
            raise ApiError(403, "forbidden", "Je bent geen beheerder van deze school.")
        return require_school(db(), access.tables, school_id)

    @with_site(*MANAGERS)
    @blp.arguments(SchoolPatchSchema(partial=("name", "type", "vestigingen")))
    @responds(blp, 200, SchoolSchema)
    def patch(self, data, site_id, school_id, access):
        with write_transaction() as conn:
            return update_school(conn, access.tables, site_id, access.actor(), school_id, **_pairs(data))

    @with_site(*MANAGERS)
    @blp.arguments(DeleteQuerySchema, location="query")
    @responds(blp, 204)
    def delete(self, query, site_id, school_id, access):
        rt, effects = runtime(), WordPressEffects()
        with write_transaction() as conn:
            admins = linked_admins(conn, access.tables, school_id)
            delete_school(conn, access.tables, rt.network_tables, site_id, access.actor(), school_id,
                          force=query["force"])
            revoke_where_unlinked(conn, rt.network, access.tables, site_id, admins, rt.config.role_slugs.school_admin,
                                  effects)
        # Its admins may have lost their role here: what the plugin must do, in the header (no body).
        return "", 204, ({"X-LOP-WordPress": effects.header()} if admins else {})
