from __future__ import annotations

import io

from flask import Response
from flask_smorest import Blueprint
from marshmallow import Schema, fields
from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill

from rules.ov import ov_schooljaar
from rules.roles import MANAGERS
from rules.schools import format_instellingsnummer
from rules.spreadsheet import xlsx_text
from wp_bridge.ov import apply_changes, catalogue_info, compare_schools, load_index, school_inputs, snapshot_time
from wp_bridge.schools import list_schools

from ..errors import ApiError
from ..runtime import db, runtime
from ..spreadsheets import append_row
from . import id_field, json_body, responds, with_site, write_transaction, year_param

blp = Blueprint("ov", __name__, url_prefix="/api/v1",
                description="Onderwijs Vlaanderen's offering next to the site's (green: only OV; red: only the site)")

GREEN = PatternFill("solid", start_color="C6EFCE", end_color="C6EFCE")
RED = PatternFill("solid", start_color="FFC7CE", end_color="FFC7CE")


class ComparisonQuery(Schema):
    year = fields.String(load_default="current")
    school = id_field(load_default=None)
    only_differences = fields.Boolean(load_default=False)


class ExportQuery(Schema):
    year = fields.String(load_default="current")


def _comparison(access, year_value: str, school_id: int | None = None, only_differences: bool = False) -> dict:
    conn, nt = db(), runtime().network_tables
    _kind, label = year_param(year_value, access)
    schools, site_codes = school_inputs(conn, access.tables, label, school_id)
    if school_id is None:
        index, covered, names = load_index(conn, nt, ov_schooljaar(label))
        catalogue = catalogue_info(conn, nt)
    else:  # one school: read only its part of the snapshot and of the catalogue
        if not schools:
            raise ApiError(404, "school_not_found", f"school {school_id} does not exist on this site")
        codes = site_codes[school_id]
        locations = [(v["instellingsnummer"], v["vestigingsnummer"]) for v in schools[0]["vestigingen"]]
        index, covered, names = load_index(conn, nt, ov_schooljaar(label), locations=locations)
        catalogue = catalogue_info(conn, nt, codes.union(*index.values()))
    schools = compare_schools(schools, site_codes, catalogue, index, covered, names)
    if only_differences:
        schools = [{**s, "rows": [r for r in s["rows"] if r["status"] in ("only_ov", "only_lop")]} for s in schools]
    taken = snapshot_time(conn, nt)
    return {"snapshot_at": taken.isoformat() + "Z" if taken else None, "school_year": label, "schools": schools}


@blp.route("/sites/<int:site_id>/ov-comparison")
@with_site(*MANAGERS)
@blp.arguments(ComparisonQuery, location="query")
@responds(blp, 200)
def comparison(query, site_id, access):
    """Per school: code, name, graad, leerjaar, onderwijsvorm and ``status`` (both, only_ov, only_lop, or
    not_covered for AN and codes OV never lists); primary schools are ``covered: false``."""
    return _comparison(access, query["year"], query["school"], query["only_differences"])


@blp.route("/sites/<int:site_id>/ov-comparison/export.xlsx")
@with_site(*MANAGERS)
@blp.arguments(ExportQuery, location="query")
@responds(blp, 200)
def export(query, site_id, access):
    """A summary sheet, then one sheet per school: OV's offering on the left, the site's on the right."""
    data = _comparison(access, query["year"])
    workbook = Workbook()
    summary = workbook.active
    summary.title = "Overzicht"
    summary.append(["School", "Instellingsnummer", "Gedekt door OV", "Op beide", "Enkel OV (ontbreekt op de site)",
                    "Enkel site (niet volgens OV)"])
    numbers = {s["id"]: s for s in list_schools(db(), access.tables)}
    used_titles: set[str] = {"Overzicht"}
    for school in data["schools"]:
        inst = ", ".join(dict.fromkeys(format_instellingsnummer(v["instellingsnummer"])
                                       for v in numbers[school["school_id"]]["vestigingen"]))
        append_row(summary, [school["name"], inst, "ja" if school["covered"] else "nee (basisonderwijs)",
                        school["counts"]["both"], school["counts"]["only_ov"], school["counts"]["only_lop"]])
        if not school["covered"]:
            continue
        sheet = workbook.create_sheet(_title(school["name"], used_titles))
        sheet.append(["Onderwijs Vlaanderen", None, None, "LOP-website", None])
        sheet.append(["Code", "Opleiding", None, "Code", "Opleiding"])
        for cell in (*sheet[1], *sheet[2]):
            cell.font = Font(bold=True)
        for row in school["rows"]:
            left = row["status"] in ("both", "only_ov")
            right = row["status"] in ("both", "only_lop", "not_covered")
            append_row(sheet, [row["code"] if left else None, row["name"] if left else None, None,
                               row["code"] if right else None, row["name"] if right else None])
            fill = GREEN if row["status"] == "only_ov" else RED if row["status"] == "only_lop" else None
            if fill:
                for column in ((1, 2) if row["status"] == "only_ov" else (4, 5)):
                    sheet.cell(row=sheet.max_row, column=column).fill = fill
        sheet.column_dimensions["B"].width = sheet.column_dimensions["E"].width = 45
        sheet.freeze_panes = "A3"
    summary.column_dimensions["A"].width = 40
    summary.freeze_panes = "A2"
    buffer = io.BytesIO()
    workbook.save(buffer)
    response = Response(buffer.getvalue(), mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response.headers["Content-Disposition"] = (f'attachment; filename="ov-vergelijking-site{site_id}-'
                                               f'{data["school_year"]}.xlsx"')
    return response


def _title(name: str, used: set[str]) -> str:
    base = "".join(c for c in xlsx_text(name) if c not in "[]:*?/\\").strip("' ")[:28] or "School"
    title, n = base, 2
    while title in used:
        title, n = f"{base[:25]} ({n})", n + 1
    used.add(title)
    return title


class ApplySchema(Schema):
    year = fields.String(required=True)
    add = fields.List(fields.Integer(), load_default=list)
    remove = fields.List(fields.Integer(), load_default=list)
    dry_run = fields.Boolean(load_default=False)


@blp.route("/sites/<int:site_id>/ov-comparison/<int:school_id>/apply", methods=["POST"])
@with_site(*MANAGERS)
@blp.doc(requestBody={"required": True, "content": {"application/json": {"schema": ApplySchema}}})
@responds(blp, 200)
def apply(site_id, school_id, access):
    """Add codes that are only OV's and remove codes that are only the site's, in one transaction; returns
    the comparison after the change (or, with ``dry_run``, what would change)."""
    body = json_body()
    errors = [{"field": k, "message": "unknown field"} for k in sorted(set(body) - {"year", "add", "remove", "dry_run"})]
    add, remove = body.get("add", []), body.get("remove", [])
    for name, codes in (("add", add), ("remove", remove)):
        if not isinstance(codes, list) or not all(isinstance(c, int) and not isinstance(c, bool) for c in codes):
            errors.append({"field": name, "message": "a list of administrative-group codes"})
    if not isinstance(body.get("year"), str):
        errors.append({"field": "year", "message": "required: current, next or a school-year label"})
    if not isinstance(body.get("dry_run", False), bool):
        errors.append({"field": "dry_run", "message": "true or false"})
    if errors:
        raise ApiError(422, "validation_failed", "invalid request", errors=errors)
    before = _comparison(access, body["year"], school_id)["schools"][0]
    status = {row["code"]: row["status"] for row in before["rows"]}
    wrong_add = [c for c in add if status.get(c) != "only_ov"]
    wrong_remove = [c for c in remove if status.get(c) != "only_lop"]
    if wrong_add or wrong_remove:
        raise ApiError(422, "validation_failed", "codes that are not only OV's (add) or only the site's (remove)",
                       errors=([{"field": "add", "message": f"{c} is not only OV's: {status.get(c, 'not listed')}"}
                                for c in wrong_add]
                               + [{"field": "remove", "message": f"{c} is not only the site's: {status.get(c, 'not listed')}"}
                                  for c in wrong_remove]))
    if body.get("dry_run"):
        return {"dry_run": True, "would_add": sorted(set(add)), "would_remove": sorted(set(remove)), "school": before}
    _kind, label = year_param(body["year"], access)
    with write_transaction() as conn:
        apply_changes(conn, access.tables, site_id, access.actor(source="ov-sync"), school_id, label,
                      sorted(set(add)), sorted(set(remove)), nt=runtime().network_tables)
    return {"dry_run": False, "school": _comparison(access, body["year"], school_id)["schools"][0]}
