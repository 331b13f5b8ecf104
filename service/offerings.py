"""Use cases on a school's offering, one function each for the API, jobs and the command line: the checks
of the request's data, the catalogue and the rights live here, not in the HTTP handlers."""

from __future__ import annotations

from sqlalchemy import Connection

from rules.offerings import AN_ADMGR, AN_NAME, validate_values
from rules.programmes import programme_refusal
from rules.rights import rights_type
from rules.roles import MANAGERS, Role
from wp_bridge.audit import Actor
from wp_bridge.catalogue import get_admgr
from wp_bridge.offerings import add_offering
from wp_bridge.schools import require_school
from wp_bridge.tables import NetworkTables, SiteTables

from .errors import ApiError
from .rights import Rights

AN_FORBIDDEN = (f"Enkel een LOP-deskundige of de netwerkbeheerder kan {AN_NAME.lower()} (AN, {AN_ADMGR}) toevoegen; "
                "vraag het aan de LOP-deskundige.")


def require_an_adder(role: Role | None) -> None:
    """AN (10000) is added by operators and LOP experts (seed: "Als LOP-deskundige…"), never by school admins."""
    if role not in MANAGERS:
        raise ApiError(403, "forbidden", AN_FORBIDDEN)


def validated_values(values: dict) -> dict:
    """The editable fields checked and normalised (rules.offerings), or 422 listing every bad one."""
    clean, errors = validate_values(values)
    if errors:
        raise ApiError(422, "validation_failed", "Ongeldige waarden: " + ", ".join(e["field"] for e in errors) + ".",
                       errors=errors)
    return clean


def add_programme(conn: Connection, tables: SiteTables, nt: NetworkTables, site_id: int, actor: Actor,
                  rights: Rights, school_id: int, year: str, label: str, code: int, values: dict) -> dict:
    """Add programme ``code`` to a school for school year ``label`` (``year``: its kind, current or next) with
    initial ``values``, in the caller's transaction, logged. In order: the school must be visible to the
    caller; AN only for operators and LOP experts (403); the code must be in the catalogue (AN need not be),
    active (422 ``admgr_inactive``) and of a stage that fits the school (422 ``admgr_wrong_level``; a code
    without a stage fits); then ``add_offering`` and the initial values' edit permissions; then the values."""
    school = require_school(conn, tables, school_id)
    rights.require_school(school_id)
    if code == AN_ADMGR:
        require_an_adder(rights.role)
    entry = get_admgr(conn, nt, code)
    refusal = programme_refusal(code, school["type"], entry._mapping if entry is not None else None)
    if refusal:
        raise ApiError(422, refusal.code, refusal.detail, errors=[{"field": "admgr_code", "message": refusal.message}])
    type_ = rights_type(school["type"], entry.graad if entry else None, entry.leerjaar if entry else None)
    rights.require_permission(school_id, year, type_, "add_offering")
    rights.require_fields(school_id, year, type_, values)
    clean = validated_values(values)
    return add_offering(conn, tables, nt, site_id, actor, school, label, code, clean)
