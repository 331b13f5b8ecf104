from __future__ import annotations

import datetime as dt
import json

from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from rules.roles import MANAGERS, Role
from rules.schools import format_instellingsnummer
from rules.spreadsheet import title_rows
from wp_bridge.offerings import display_key, site_offerings
from wp_bridge.rollover import snapshot_dates
from wp_bridge.schools import list_schools

from ..errors import ApiError
from ..exports import PERCENT, Column, download
from ..rights import Rights
from ..runtime import db, runtime
from ..spreadsheets import export_file_name, site_display_name
from . import responds, with_site, year_param

blp = Blueprint("exports", __name__, url_prefix="/api/v1",
                description="The Export page: free places (now or a 1 July snapshot) and offerings, as CSV or Excel")


class FreePlacesExportQuery(Schema):
    year = fields.String(load_default="current")
    format = fields.String(load_default="xlsx", validate=validate.OneOf(["csv", "xlsx"]))
    snapshot = fields.Date(load_default=None, metadata={"description": "a stored snapshot's date instead of the live numbers"})


class OfferingsExportQuery(Schema):
    year = fields.String(load_default="current")
    format = fields.String(load_default="xlsx", validate=validate.OneOf(["csv", "xlsx"]))


FREE_PLACES_COLUMNS = [
    Column("School", 36), Column("Instellingsnummer", 16, "@"), Column("Vestigingen", 22, "@"), Column("Schooljaar", 11),
    Column("Administratieve groep", 12, "0"), Column("Opleiding", 40), Column("Capaciteit", 11, "0"),
    Column("Vrije plaatsen", 11, "0"), Column("Zittende leerlingen", 11, "0"), Column("Percentage indicator", 11, PERCENT),
    Column("Achtervoegsel", 16),
]


def _titles(access, what: str, years: str, as_of: dt.date | None = None) -> list[str]:
    """The title rows of an Excel export: the LOP, what and which school year; the day of a snapshot, else now."""
    return title_rows(site_display_name(access.site), what, years,
                      as_of if as_of is not None else dt.datetime.now(runtime().config.tz))


def _numbers(vestigingen: list) -> tuple[str, str]:
    """(instellingsnummers, vestigingen) as people read them: ``012345`` and ``012345-1, 012345-2``."""
    pairs = [(v[0], v[1]) if isinstance(v, list) else (v["instellingsnummer"], v["vestigingsnummer"]) for v in vestigingen]
    numbers = ", ".join(dict.fromkeys(format_instellingsnummer(i) for i, _ in pairs))
    return numbers, ", ".join(f"{format_instellingsnummer(i)}-{v}" for i, v in pairs)


def _in_display_order(conn, access, nt, label: str, schools: list[dict]):
    """(school, instellingsnummers, vestigingen, offering) for every offering of ``label``: schools in name
    order, programmes in display order."""
    by_school: dict[int, list[dict]] = {}
    for offering in site_offerings(conn, access.tables, nt, label):
        by_school.setdefault(offering["school_id"], []).append(offering)
    for school in schools:
        numbers, locations = _numbers(school["vestigingen"])
        for offering in sorted(by_school.get(school["id"], []), key=lambda o: display_key(o, school["type"])):
            yield school, numbers, locations, offering


def _visible(access) -> set[int] | None:
    """The schools whose numbers the caller may export: all (None) for managers, their own for a school admin."""
    if access.is_manager:
        return None
    return set(Rights.load(db(), access.site, access.tables, access.role, access.user.id).linked)


@blp.route("/sites/<int:site_id>/exports/free-places")
@with_site(*MANAGERS, Role.SCHOOL_ADMIN)
@blp.arguments(FreePlacesExportQuery, location="query")
@responds(blp, 200)
def free_places_export(query, site_id, access):
    """One row per school programme in display order; school admins get their own schools only."""
    conn, nt = db(), runtime().network_tables
    visible = _visible(access)
    schools = [s for s in list_schools(conn, access.tables) if visible is None or s["id"] in visible]
    if query["snapshot"] is None:
        _kind, label = year_param(query["year"], access)
        rows = [(school["name"], numbers, locations, label, o["admgr_code"], o["name"], o["capacity"], o["free_places"],
                 o["enrolled"], o["indicator_pct"], o["suffix"])
                for school, numbers, locations, o in _in_display_order(conn, access, nt, label, schools)]
        name, titles = export_file_name("vrije-plaatsen", access.site, label), _titles(access, "Vrije plaatsen", label)
    else:
        on = query["snapshot"]
        years, rows = _snapshot_rows(conn, access, nt, on, visible)
        name = export_file_name("vrije-plaatsen", access.site, *years, "stand-op", on.isoformat())
        titles = _titles(access, "Vrije plaatsen", " en ".join(years), on)
    return download(name, query["format"], "Vrije plaatsen", FREE_PLACES_COLUMNS, rows, title_rows=titles)


def _snapshot_rows(conn, access, nt, on: dt.date, visible: set[int] | None) -> tuple[list[str], list[tuple]]:
    """(the school years stored that day, the rows the caller may see in display order)."""
    s, a = access.tables.free_places_snapshots, nt.admgr
    stored = conn.execute(
        select(s, a.c.onderwijsvorm, a.c.graad, a.c.leerjaar, a.c.stage).select_from(s.outerjoin(a, a.c.code == s.c.admgr_code))
        .where(s.c.snapshot_date == on)).all()
    if not stored:
        raise ApiError(404, "snapshot_not_found", f"Er zijn voor deze site geen vrije plaatsen bewaard op {on:%d/%m/%Y}.")
    types = {school["id"]: school["type"] for school in list_schools(conn, access.tables)}

    def key(row):
        offering = {"onderwijsvorm": row.onderwijsvorm, "graad": row.graad, "leerjaar": row.leerjaar,
                    "name": row.programme, "admgr_code": row.admgr_code, "stage": row.stage}
        return (row.school_name, row.school_id, display_key(offering, types.get(int(row.school_id), "SO")))

    rows = []
    for row in sorted(stored, key=key):
        if visible is not None and int(row.school_id) not in visible:
            continue
        numbers, locations = _numbers(json.loads(row.vestigingen))
        rows.append((row.school_name, numbers, locations, row.school_year, row.admgr_code, row.programme, row.capacity,
                     row.free_places, row.enrolled, float(row.indicator_pct) if row.indicator_pct is not None else None,
                     row.suffix))
    return sorted({row.school_year for row in stored}), rows


OFFERING_COLUMNS = [
    Column("School-ID", 9, "0"), Column("School", 36), Column("Schooltype", 9), Column("Instellingsnummer", 16, "@"),
    Column("Vestigingen", 22, "@"), Column("Schooljaar", 11), Column("Administratieve groep", 12, "0"),
    Column("Opleiding", 40), Column("Type (rechten)", 10), Column("Onderwijsvorm", 10), Column("Graad", 7, "0"),
    Column("Leerjaar", 8, "0"), Column("Capaciteit", 11, "0"), Column("Vrije plaatsen", 11, "0"),
    Column("Zittende leerlingen", 11, "0"), Column("Percentage indicator", 11, PERCENT), Column("Achtervoegsel", 16),
    Column("Extra info", 40), Column("Datums", 30), Column("Versie", 7, "0"), Column("Aanbod-ID", 9, "0"),
]


@blp.route("/sites/<int:site_id>/exports/offerings")
@with_site(*MANAGERS)
@blp.arguments(OfferingsExportQuery, location="query")
@responds(blp, 200)
def offerings_export(query, site_id, access):
    """Every field of every offering of a year, for the LOP's own analysis."""
    conn, nt = db(), runtime().network_tables
    _kind, label = year_param(query["year"], access)
    rows = []
    for school, numbers, locations, o in _in_display_order(conn, access, nt, label, list_schools(conn, access.tables)):
        dates = "; ".join(" ".join(filter(None, (d["date"], d.get("label")))) for d in o["dates"])
        rows.append((school["id"], school["name"], school["type"], numbers, locations, label, o["admgr_code"], o["name"],
                     o["type"], o["onderwijsvorm"], o["graad"], o["leerjaar"], o["capacity"], o["free_places"],
                     o["enrolled"], o["indicator_pct"], o["suffix"], o["extra_info"], dates, o["version"], o["id"]))
    return download(export_file_name("aanbod", access.site, label), query["format"], "Aanbod", OFFERING_COLUMNS, rows,
                    title_rows=_titles(access, "Aanbod", label))


@blp.route("/sites/<int:site_id>/exports/snapshots")
@with_site(*MANAGERS)
@responds(blp, 200)
def snapshots(site_id, access):
    """The stored free-places snapshots, newest first: ``{"snapshots": [{"date", "school_year", "kind", "rows"}]}``;
    ``kind``: ``"1_july"`` (the scheduled one), ``"rollover"`` (taken by the rollover when no 1 July one existed)
    or ``"manual"`` (taken by hand)."""
    return {"snapshots": [{"date": d.isoformat(), "school_year": y, "kind": k, "rows": n}
                          for d, y, k, n in snapshot_dates(db(), access.tables)]}
