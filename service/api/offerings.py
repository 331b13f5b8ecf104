from __future__ import annotations

import re
from collections.abc import Iterable

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from rules.ids import is_id
from rules.offerings import EDITABLE_FIELDS
from rules.rights import types_of_school
from rules.roles import MANAGERS, Role
from rules.school_year import resolve_year
from wp_bridge.errors import NotFound
from wp_bridge.offerings import (
    add_an,
    delete_offering,
    get_offering,
    school_offerings,
    update_offering,
)
from wp_bridge.schools import list_schools, require_school

from ..errors import ApiError
from ..offerings import add_programme, require_an_adder, validated_values
from ..rights import Rights
from ..runtime import db, runtime
from . import json_body, responds, with_site, write_transaction, year_param

blp = Blueprint("offerings", __name__, url_prefix="/api/v1",
                description="Offerings of a school per school year, with the rights of school admins enforced")


class DateSchema(Schema):
    date = fields.Date()
    label = fields.String(allow_none=True)


class OfferingValuesSchema(Schema):
    capacity = fields.Integer(allow_none=True)
    free_places = fields.Integer(allow_none=True)
    enrolled = fields.Integer(allow_none=True)
    indicator_pct = fields.Decimal(allow_none=True, places=2, as_string=False)
    suffix = fields.String(allow_none=True, metadata={"description": "at most 100 characters"})
    extra_info = fields.String(allow_none=True, metadata={"description": "at most 2000 characters"})
    dates = fields.List(fields.Nested(DateSchema))


class OfferingSchema(OfferingValuesSchema):
    id = fields.Integer()
    school_id = fields.Integer()
    school_year = fields.String()
    admgr_code = fields.Integer()
    name = fields.String()
    type = fields.String(metadata={"description": "rights type: BaO, BuBaO, SO, BuSO or 1A/1B"})
    onderwijsvorm = fields.String(allow_none=True)
    graad = fields.Integer(allow_none=True)
    leerjaar = fields.Integer(allow_none=True)
    stage = fields.String(allow_none=True, metadata={"description": "the catalogue's stage: kleuter, lager, secundair or null"})
    version = fields.Integer()
    editable = fields.List(fields.String(), metadata={"description": "fields the caller may change now"})
    removable = fields.Boolean(metadata={"description": "the caller may remove this offering now"})
    changes_at = fields.String(allow_none=True, metadata={
        "description": "ISO UTC instant when the caller's rights on this offering change by themselves (the type's "
                       "free-registration start), or null"})
    editable_after = fields.List(fields.String(), allow_none=True, metadata={
        "description": "the fields editable from changes_at on; null without changes_at"})
    etag = fields.String(metadata={"description": "the strong ETag of this version, for If-Match"})


class OfferingCreateSchema(OfferingValuesSchema):
    year = fields.String(required=True, metadata={"description": "current, next or the school-year label"})
    admgr_code = fields.Integer(required=True)


class OfferingListSchema(Schema):
    school_id = fields.Integer()
    year = fields.String()
    school_year = fields.String()
    offerings = fields.List(fields.Nested(OfferingSchema))
    rights = fields.Dict(metadata={"description": "per rights type of the school: period, permissions now "
                                                  "(add_offering …), changes_at — as GET …/rights"})


class YearQuerySchema(Schema):
    year = fields.String(load_default="current", metadata={"description": "current, next or a school-year label"})


def _rights(access, linked: Iterable[int] | None = None) -> Rights:
    return Rights.load(db(), access.site, access.tables, access.role, access.user.id if access.user else 0,
                       tz=runtime().config.tz, linked=linked)


def _visible_school(access, rights: Rights, school_id: int) -> dict:
    school = require_school(db(), access.tables, school_id)
    rights.require_school(school_id)
    return school


def _offering_and_rights(access, school_id: int, offering_id: int) -> tuple[dict, Rights]:
    """The offering and the caller's rights on its school in one query (its row says whether a school admin
    is linked to the school). When there is no such offering, the school's own checks say why (no such
    school, not theirs, or no such offering)."""
    is_admin = access.role is Role.SCHOOL_ADMIN
    try:
        offering = get_offering(db(), access.tables, runtime().network_tables, school_id, offering_id,
                                linked_user=access.user.id if is_admin else None)
    except NotFound:
        _visible_school(access, _rights(access), school_id)
        raise
    rights = _rights(access, linked=[school_id] if offering.pop("user_is_linked", False) else [])
    rights.require_school(school_id)
    return offering, rights


def _with_editable(offering: dict, rights: Rights, year: str) -> dict:
    """The offering with what the caller may do on it now and when that changes (``Rights.outlook``), and its
    ETag (the value the single-offering response sends as the header)."""
    return {**offering, **rights.outlook(offering["school_id"], year, offering["type"]), "etag": _etag(offering)}


def _etag(offering: dict) -> str:
    return f'"o{offering["id"]}v{offering["version"]}"'


_ETAG = re.compile(r'"o(\d+)v(\d+)"')


def _expected_version(offering: dict) -> int | None:
    """The version named by If-Match for this offering, None without If-Match (or with ``*``)."""
    header = request.headers.get("If-Match")
    if header is None or header.strip() == "*":
        return None
    for offering_id, version in _ETAG.findall(header):
        if int(offering_id) == offering["id"]:
            return int(version)
    raise ApiError(412, "version_mismatch", "Iemand anders heeft deze opleiding intussen gewijzigd. Laad ze opnieuw.")


def _offering_year(offering: dict, access) -> str:
    try:
        return resolve_year(offering["school_year"], access.site.current_school_year)[0]
    except ValueError:
        raise ApiError(409, "offering_not_current", f"Opleiding {offering['id']} hoort bij schooljaar {offering['school_year']}, "
                                                    "niet bij het lopende of het volgende schooljaar.") from None


@blp.route("/sites/<int:site_id>/schools/<int:school_id>/offerings")
class Offerings(MethodView):
    @with_site(*MANAGERS, Role.SCHOOL_ADMIN)
    @blp.arguments(YearQuerySchema, location="query")
    @responds(blp, 200, OfferingListSchema)
    def get(self, query, site_id, school_id, access):
        """The school's offerings in display order, each with the fields the caller may change now."""
        year, label = year_param(query["year"], access)
        rights = _rights(access)
        school = _visible_school(access, rights, school_id)
        rows = school_offerings(db(), access.tables, runtime().network_tables, school_id, label, school["type"])
        return {"school_id": school_id, "year": year, "school_year": label,
                "offerings": [_with_editable(row, rights, year) for row in rows],
                "rights": {t: rights.type_outlook(school_id, year, t) for t in types_of_school(school["type"])}}

    @with_site(*MANAGERS, Role.SCHOOL_ADMIN)
    @blp.doc(requestBody={"required": True, "content": {"application/json": {"schema": OfferingCreateSchema}}})
    @responds(blp, 201, OfferingSchema)
    def post(self, site_id, school_id, access):
        """Add a programme (needs ``add_offering``; initial values need their edit permissions). 422
        ``admgr_inactive`` for a code no longer active, ``admgr_wrong_level`` for a code whose stage does not fit
        the school; AN (10000) only by operators and LOP experts."""
        body = json_body()
        unknown = sorted(set(body) - {"year", "admgr_code", *EDITABLE_FIELDS})
        code = body.get("admgr_code")
        errors = [{"field": name, "message": "onbekend veld"} for name in unknown]
        if not is_id(code):
            errors.append({"field": "admgr_code", "message": "verplicht: de code van een administratieve groep (een positief geheel getal)"})
        if not isinstance(body.get("year"), str):
            errors.append({"field": "year", "message": "verplicht: current, next of een schooljaar zoals 2026-2027"})
        if errors:
            raise ApiError(422, "validation_failed", "Ongeldige aanvraag: " + ", ".join(e["field"] for e in errors) + ".",
                           errors=errors)
        year, label = year_param(body["year"], access)
        values = {name: body[name] for name in EDITABLE_FIELDS if name in body}
        rights = _rights(access)
        with write_transaction() as conn:
            created = add_programme(conn, access.tables, runtime().network_tables, site_id, access.actor(), rights,
                                    school_id, year, label, code, values)
        return _with_editable(created, rights, year), 201, {"ETag": _etag(created)}


@blp.route("/sites/<int:site_id>/schools/<int:school_id>/offerings/<int:offering_id>")
class Offering(MethodView):
    @with_site(*MANAGERS, Role.SCHOOL_ADMIN)
    @responds(blp, 200, OfferingSchema)
    def get(self, site_id, school_id, offering_id, access):
        offering, rights = _offering_and_rights(access, school_id, offering_id)
        year = _offering_year(offering, access)
        return _with_editable(offering, rights, year), 200, {"ETag": _etag(offering)}

    @with_site(*MANAGERS, Role.SCHOOL_ADMIN)
    @blp.doc(requestBody={"required": True, "content": {"application/json": {"schema": OfferingValuesSchema}}},
             parameters=[{"in": "header", "name": "If-Match", "schema": {"type": "string"},
                          "description": "the ETag from the last read; a stale one gives 412"}])
    @responds(blp, 200, OfferingSchema)
    def patch(self, site_id, school_id, offering_id, access):
        """Change any subset of the editable fields, all or nothing."""
        body = json_body()
        unknown = sorted(set(body) - set(EDITABLE_FIELDS))
        if unknown:
            raise ApiError(422, "validation_failed", "Onbekend veld: " + ", ".join(unknown) + ".",
                           errors=[{"field": name, "message": "Onbekend veld."} for name in unknown])
        offering, rights = _offering_and_rights(access, school_id, offering_id)
        year = _offering_year(offering, access)
        rights.require_fields(school_id, year, offering["type"], body)
        clean = validated_values(body)
        expected = _expected_version(offering)
        with write_transaction() as conn:
            updated = update_offering(conn, access.tables, runtime().network_tables, site_id, access.actor(), offering, clean, expected)
        return _with_editable(updated, rights, year), 200, {"ETag": _etag(updated)}

    @with_site(*MANAGERS, Role.SCHOOL_ADMIN)
    @responds(blp, 204)
    def delete(self, site_id, school_id, offering_id, access):
        """Remove a programme (needs ``remove_offering``); its numbers stay in the log."""
        offering, rights = _offering_and_rights(access, school_id, offering_id)
        year = _offering_year(offering, access)
        rights.require_permission(school_id, year, offering["type"], "remove_offering")
        expected = _expected_version(offering)
        with write_transaction() as conn:
            delete_offering(conn, access.tables, site_id, access.actor(), offering, expected)
        return "", 204


class AnSchema(Schema):
    schools = fields.Raw(required=True, metadata={"description": 'a list of school ids, or "all" (every BaO school)'})
    years = fields.List(fields.String(), required=True, metadata={"example": ["current", "next"]})


@blp.route("/sites/<int:site_id>/an", methods=["POST"])
@with_site(*MANAGERS, Role.SCHOOL_ADMIN)
@blp.doc(requestBody={"required": True, "content": {"application/json": {"schema": AnSchema}}})
@responds(blp, 200)
def add_anderstalige_nieuwkomers(site_id, access):
    """Add programme 10000 (AN) to BaO schools that lack it; idempotent. Operators and LOP experts only."""
    require_an_adder(access.role)
    body = json_body()
    errors = [{"field": name, "message": "Onbekend veld."} for name in sorted(set(body) - {"schools", "years"})]
    years_in = body.get("years")
    if not isinstance(years_in, list) or not years_in or not all(y in ("current", "next") for y in years_in):
        errors.append({"field": "years", "message": 'Verplicht: een niet-lege lijst met "current" en/of "next".'})
    schools_in = body.get("schools")
    all_schools = list_schools(db(), access.tables)
    by_id = {s["id"]: s for s in all_schools}
    if schools_in == "all":
        chosen = [s for s in all_schools if s["type"] == "BaO"]
    elif isinstance(schools_in, list) and schools_in and all(isinstance(i, int) and not isinstance(i, bool) for i in schools_in):
        for position, school_id in enumerate(schools_in):
            if school_id not in by_id:
                errors.append({"field": f"schools[{position}]", "message": f"school {school_id} bestaat niet op deze site"})
            elif by_id[school_id]["type"] != "BaO":
                errors.append({"field": f"schools[{position}]", "message": f"school {school_id} "
                               f"({by_id[school_id]['name']}) is {by_id[school_id]['type']}, geen BaO"})
        chosen = [by_id[i] for i in dict.fromkeys(schools_in) if i in by_id]
    else:
        errors.append({"field": "schools", "message": 'een niet-lege lijst van school-ids, of "all"'})
        chosen = []
    if errors:
        raise ApiError(422, "validation_failed", f"{len(errors)} fout(en) in de aanvraag: niets toegevoegd; "
                       + "; ".join(e["message"] for e in errors[:3]), errors=errors)
    labels = [year_param(y, access)[1] for y in dict.fromkeys(years_in)]
    with write_transaction() as conn:
        counts = add_an(conn, access.tables, site_id, access.actor(), [s["id"] for s in chosen], labels)
    rows = [{"school_id": s["id"], "name": s["name"], **counts[s["id"]]} for s in chosen]
    return {"schools": rows, "added": sum(r["added"] for r in rows),
            "already_present": sum(r["already_present"] for r in rows)}
