from __future__ import annotations

import datetime as dt
import io

from flask import Response
from flask_smorest import Blueprint
from marshmallow import Schema, fields
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill

from rules.ov import ov_schooljaar
from rules.roles import MANAGERS
from rules.schools import format_instellingsnummer
from rules.spreadsheet import sheet_name
from rules.wording import moment
from wp_bridge.job_runs import last_finished_run
from wp_bridge.ov import (
    OfferingHasNumbers,
    apply_changes,
    catalogue_info,
    compare_schools,
    has_year,
    load_index,
    removal_needs_confirmation,
    school_inputs,
    snapshot_time,
)
from wp_bridge.schools import list_schools

from ..errors import ApiError
from ..runtime import db, runtime
from ..spreadsheets import add_filter, append_row, export_file_name, site_display_name, style_header
from . import id_field, json_body, responds, utc_text, with_site, write_transaction, year_param

blp = Blueprint("ov", __name__, url_prefix="/api/v1",
                description="Onderwijs Vlaanderen's offering next to the site's (green: only OV; red: only the site)")

GREEN = PatternFill("solid", start_color="C6EFCE", end_color="C6EFCE")
RED = PatternFill("solid", start_color="FFC7CE", end_color="FFC7CE")
GREEN_TEXT = "staat bij Onderwijs Vlaanderen, ontbreekt op de LOP-website"
RED_TEXT = "staat op de LOP-website, niet bij Onderwijs Vlaanderen"
NOWHERE_TEXT = "bestaat volgens Onderwijs Vlaanderen niet meer"
OUTSIDE_TEXT = "valt buiten de gegevens van Onderwijs Vlaanderen (anderstalige nieuwkomers of basisonderwijs)"
NO_SNAPSHOT = "Er werden nog geen gegevens van Onderwijs Vlaanderen opgehaald."


def _no_year_data(label: str) -> str:
    return f"Onderwijs Vlaanderen vermeldt (nog) geen aanbod voor schooljaar {label}."


class ComparisonQuery(Schema):
    year = fields.String(load_default="current")
    school = id_field(load_default=None)
    only_differences = fields.Boolean(load_default=False)


class ExportQuery(Schema):
    year = fields.String(load_default="current")



def _last_sync(conn, nt, tz) -> dict | None:
    """The newest finished ov-sync run: its outcome, when, and a Dutch summary for the LOP expert. The run's
    own summary and error are network-wide operator texts (every site's counts, the cause): operators read
    them under the jobs."""
    run = last_finished_run(conn, nt, "ov-sync")
    if run is None:
        return None
    when = moment(run.finished_at.replace(tzinfo=dt.UTC), tz)
    summary = (f"Gegevens van Onderwijs Vlaanderen opgehaald op {when}." if run.status == "succeeded" else
               f"De synchronisatie met Onderwijs Vlaanderen van {when} is mislukt; de vorige gegevens blijven gelden. "
               "De technische beheerder ziet de oorzaak bij de synchronisaties.")
    return {"status": run.status, "finished_at": utc_text(run.finished_at), "summary": summary}


def _comparison(access, year_value: str, school_id: int | None = None, only_differences: bool = False) -> dict:
    """The comparison with its ``state``: ``ok``; ``no_snapshot`` (nothing fetched from OV yet) or
    ``no_year_data`` (the snapshot lists nothing for that school year), both without schools and with a
    Dutch ``message`` — never a list of schools that looks like "no differences"."""
    conn, nt, config = db(), runtime().network_tables, runtime().config
    _kind, label = year_param(year_value, access)
    taken = snapshot_time(conn, nt)
    result = {"snapshot_at": utc_text(taken), "school_year": label, "state": "ok", "message": None,
              "ov_configured": bool(config.ov_api_url and config.ov_api_key), "last_sync": _last_sync(conn, nt, config.tz)}
    schooljaar = ov_schooljaar(label)
    schools, site_codes = school_inputs(conn, access.tables, label, school_id)
    if school_id is not None and not schools:
        raise ApiError(404, "school_not_found", f"School {school_id} bestaat niet op deze site.")
    if taken is None:
        return {**result, "state": "no_snapshot", "message": NO_SNAPSHOT, "schools": []}
    if not has_year(conn, nt, schooljaar):
        return {**result, "state": "no_year_data", "message": _no_year_data(label), "schools": []}
    if school_id is None:
        index, listed, names = load_index(conn, nt, schooljaar)
        catalogue = catalogue_info(conn, nt)
    else:  # one school: read only its part of the snapshot and of the catalogue
        codes = site_codes[school_id]
        locations = [(v["instellingsnummer"], v["vestigingsnummer"]) for v in schools[0]["vestigingen"]]
        index, listed, names = load_index(conn, nt, schooljaar, locations=locations, codes=codes)
        catalogue = catalogue_info(conn, nt, codes.union(*index.values()))
    schools = compare_schools(schools, site_codes, catalogue, index, listed, names)
    if only_differences:
        schools = [{**s, "rows": [r for r in s["rows"] if r["status"] in ("only_ov", "only_lop")]} for s in schools]
    return {**result, "schools": schools}


def _require_data(data: dict) -> None:
    """409 when there is nothing to compare with (no snapshot, or nothing for the school year)."""
    if data["state"] == "no_snapshot":
        raise ApiError(409, "no_ov_snapshot", data["message"])
    if data["state"] == "no_year_data":
        raise ApiError(409, "no_ov_data_for_year", data["message"])


@blp.route("/sites/<int:site_id>/ov-comparison")
@with_site(*MANAGERS)
@blp.arguments(ComparisonQuery, location="query")
@responds(blp, 200)
def comparison(query, site_id, access):
    """``state`` (ok, no_snapshot, no_year_data), ``message``, ``ov_configured``, ``last_sync``; per school: code,
    name, graad, leerjaar, onderwijsvorm, ``status`` (both, only_ov, only_lop, or not_covered for AN and
    primary education) and ``ov_lists_nowhere``; primary schools are ``covered: false``."""
    return _comparison(access, query["year"], query["school"], query["only_differences"])


@blp.route("/sites/<int:site_id>/ov-comparison/export.xlsx")
@with_site(*MANAGERS)
@blp.arguments(ExportQuery, location="query")
@responds(blp, 200)
def export(query, site_id, access):
    """A summary sheet, then one sheet per school: OV's offering on the left, the site's on the right; each
    sheet titled with the school year and the snapshot's date, with the legend of the colours. 409
    ``no_ov_snapshot`` (or ``no_ov_data_for_year``) when there is nothing to compare with."""
    data = _comparison(access, query["year"])
    _require_data(data)
    numbers = {s["id"]: s for s in list_schools(db(), access.tables)}
    body = comparison_workbook(data, numbers, runtime().config.tz, site_display_name(access.site))
    response = Response(body, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    name = export_file_name("ov-vergelijking", access.site, data["school_year"])
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.xlsx"'
    return response


def comparison_workbook(data: dict, schools_by_id: dict[int, dict], tz, site_name: str) -> bytes:
    taken = dt.datetime.fromisoformat(data["snapshot_at"].removesuffix("Z")).replace(tzinfo=dt.UTC)
    fetched = f"Gegevens van Onderwijs Vlaanderen van {taken.astimezone(tz):%d/%m/%Y %H:%M}"
    year = f"schooljaar {data['school_year']}"
    workbook = Workbook()
    summary = workbook.active
    summary.title = "Overzicht"
    used = {"overzicht"}
    _heading(summary, f"{site_name} – Vergelijking met Onderwijs Vlaanderen, {year}", fetched)
    summary.append(["School", "Instellingsnummer", "Tabblad", "Vergeleken met Onderwijs Vlaanderen", "Op beide",
                    "Enkel bij Onderwijs Vlaanderen (groen)", "Enkel op de LOP-website (rood)",
                    "Rood, bestaat volgens Onderwijs Vlaanderen niet meer"])
    header_row = summary.max_row
    style_header(summary, header_row)
    for school in data["schools"]:
        inst = ", ".join(dict.fromkeys(format_instellingsnummer(v["instellingsnummer"])
                                       for v in schools_by_id[school["school_id"]]["vestigingen"]))
        title = sheet_name(school["name"], used) if school["covered"] else None
        counts = school["counts"]
        append_row(summary, [school["name"], inst, title,
                             "ja" if school["covered"] else "nee: basisonderwijs, niet in de gegevens van Onderwijs Vlaanderen",
                             counts["both"], counts["only_ov"], counts["only_lop"],
                             sum(1 for r in school["rows"] if r["ov_lists_nowhere"])])
        if school["covered"]:
            _school_sheet(workbook.create_sheet(title), school, f"{site_name} – {school['name']}", year, fetched)
    summary.column_dimensions["A"].width = 40
    summary.column_dimensions["C"].width = 32
    summary.column_dimensions["D"].width = 30
    add_filter(summary, header_row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _heading(sheet, title: str, fetched: str) -> None:
    """Title, snapshot date, the legend of both colours, and an empty line."""
    append_row(sheet, [title])
    sheet["A1"].font = Font(bold=True, size=14)
    append_row(sheet, [fetched])
    append_row(sheet, ["Groen", GREEN_TEXT])
    sheet.cell(row=sheet.max_row, column=1).fill = GREEN
    append_row(sheet, ["Rood", RED_TEXT])
    sheet.cell(row=sheet.max_row, column=1).fill = RED
    sheet.append([])


def _bold(cells) -> None:
    for cell in cells:
        cell.font = Font(bold=True)


def _school_sheet(sheet, school: dict, title: str, year: str, fetched: str) -> None:
    _heading(sheet, f"{title}: vergelijking met Onderwijs Vlaanderen, {year}", fetched)
    append_row(sheet, ["Onderwijs Vlaanderen", None, None, "LOP-website", None, None])
    _bold(sheet[sheet.max_row])
    append_row(sheet, ["Code", "Opleiding", None, "Code", "Opleiding", "Opmerking"])
    header_row = sheet.max_row
    style_header(sheet, header_row)
    for row in school["rows"]:
        status = row["status"]
        left = status in ("both", "only_ov")
        right = status in ("both", "only_lop", "not_covered")
        note = NOWHERE_TEXT if row["ov_lists_nowhere"] else OUTSIDE_TEXT if status == "not_covered" else None
        append_row(sheet, [row["code"] if left else None, row["name"] if left else None, None,
                           row["code"] if right else None, row["name"] if right else None, note])
        fill = GREEN if status == "only_ov" else RED if status == "only_lop" else None
        if fill:
            for column in ((1, 2) if status == "only_ov" else (4, 5)):
                sheet.cell(row=sheet.max_row, column=column).fill = fill
    sheet.column_dimensions["B"].width = sheet.column_dimensions["E"].width = 45
    sheet.column_dimensions["F"].width = 40
    for cell in sheet["F"]:
        cell.alignment = Alignment(wrap_text=True)
    add_filter(sheet, header_row)


class ApplySchema(Schema):
    year = fields.String(required=True)
    add = fields.List(fields.Integer(), load_default=list)
    remove = fields.List(fields.Integer(), load_default=list)
    dry_run = fields.Boolean(load_default=False)
    confirm_numbers = fields.Boolean(load_default=False, metadata={
        "description": "required to remove an offering whose capacity, free places or enrolled is set"})


APPLY_FIELDS = {"year", "add", "remove", "dry_run", "confirm_numbers"}


@blp.route("/sites/<int:site_id>/ov-comparison/<int:school_id>/apply", methods=["POST"])
@with_site(*MANAGERS)
@blp.doc(requestBody={"required": True, "content": {"application/json": {"schema": ApplySchema}}})
@responds(blp, 200)
def apply(site_id, school_id, access):
    """Add codes that are only OV's and remove codes that are only the site's, in one transaction; returns
    the comparison after the change (or, with ``dry_run``, what would change and ``needs_confirmation``).
    Removing an offering that holds numbers needs ``confirm_numbers`` (409 ``offering_has_numbers``)."""
    body = json_body()
    errors = [{"field": k, "message": "onbekend veld"} for k in sorted(set(body) - APPLY_FIELDS)]
    add, remove = body.get("add", []), body.get("remove", [])
    for name, codes in (("add", add), ("remove", remove)):
        if not isinstance(codes, list) or not all(isinstance(c, int) and not isinstance(c, bool) for c in codes):
            errors.append({"field": name, "message": "een lijst van codes van administratieve groepen"})
    if not isinstance(body.get("year"), str):
        errors.append({"field": "year", "message": "verplicht: current, next of een schooljaar (2026-2027)"})
    for flag in ("dry_run", "confirm_numbers"):
        if not isinstance(body.get(flag, False), bool):
            errors.append({"field": flag, "message": "true of false"})
    if errors:
        raise ApiError(422, "validation_failed", "Ongeldige aanvraag.", errors=errors)
    data = _comparison(access, body["year"], school_id)
    _require_data(data)
    before = data["schools"][0]
    status = {row["code"]: row["status"] for row in before["rows"]}
    wrong_add = [c for c in add if status.get(c) != "only_ov"]
    wrong_remove = [c for c in remove if status.get(c) != "only_lop"]
    if wrong_add or wrong_remove:
        raise ApiError(422, "validation_failed",
                       "Toevoegen kan enkel wat alleen bij Onderwijs Vlaanderen staat, verwijderen enkel wat alleen op "
                       "de LOP-website staat.",
                       errors=([{"field": "add", "message": f"{c} staat niet enkel bij Onderwijs Vlaanderen"}
                                for c in wrong_add]
                               + [{"field": "remove", "message": f"{c} staat niet enkel op de LOP-website"}
                                  for c in wrong_remove]))
    add, remove, label = sorted(set(add)), sorted(set(remove)), data["school_year"]
    if body.get("dry_run"):
        return {"dry_run": True, "would_add": add, "would_remove": remove, "school": before,
                "needs_confirmation": removal_needs_confirmation(db(), access.tables, school_id, label, remove)}
    try:
        with write_transaction() as conn:
            apply_changes(conn, access.tables, site_id, access.actor(source="ov-sync"), school_id, label, add, remove,
                          confirm_numbers=body.get("confirm_numbers", False), nt=runtime().network_tables)
    except OfferingHasNumbers as exc:
        raise ApiError(409, exc.code, exc.detail, errors=[
            {"field": "remove", "message": f"{code} heeft nog een capaciteit, vrije plaatsen of zittende leerlingen"}
            for code in exc.codes]) from None
    return {"dry_run": False, "school": _comparison(access, body["year"], school_id)["schools"][0]}
