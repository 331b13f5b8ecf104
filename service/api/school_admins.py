from __future__ import annotations

import io
import re
import zipfile
from collections import defaultdict
from xml.etree.ElementTree import ParseError

from defusedxml.ElementTree import iterparse
from flask import Response, request
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.worksheet.datavalidation import DataValidation

from jobs.runner import create_run
from rules.admin_import import MAX_ROWS, NO_ROWS, TEMPLATE_HEADINGS, check_rows, map_headings, missing_columns_text
from rules.emails import INVITATION_STATUS_TEXT, normalise_email
from rules.roles import MANAGERS
from rules.schools import format_instellingsnummer
from wp_bridge.faults import fault_point
from wp_bridge.job_runs import active_run, freshest_scheduler
from wp_bridge.options import get_option
from wp_bridge.outbox import INVITATION, PENDING, STATUSES, list_mails, queue_mail
from wp_bridge.school_admins import UnreadableWordPressValue, add_admins, remove_admin, school_stats, users_by_email
from wp_bridge.schools import list_schools, require_school

from ..auth import caller, network_caller
from ..errors import ApiError
from ..mails import welcome_mail
from ..runtime import db, runtime
from ..spreadsheets import append_row, export_file_name, site_display_name
from . import decode_cursor, encode_cursor, json_body, responds, utc_text, with_site, write_transaction

blp = Blueprint("school_admins", __name__, url_prefix="/api/v1", description="School admins and their accounts")

MAX_IMPORT_BYTES = 5 * 1024 * 1024
MAX_UNPACKED_BYTES = 100 * 1024 * 1024
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _db_version(conn, site) -> int:
    value = get_option(conn, site.prefix, "db_version") or "0"
    return int(value) if value.isdigit() else 0


def _add(access, requests: list[tuple[int, str]], schools: dict[int, dict], source: str = "api"):
    """Link admins and queue the invitations (welcome mails) of new accounts, in the caller's transaction;
    ``result.invitations`` maps each new address to its outbox id. ``source`` goes to the log: "import" for the
    Excel import."""
    conn, rt = db(), runtime()
    result = add_admins(conn, rt.network, access.tables, access.site, _db_version(conn, access.site),
                        requests, access.actor(source), rt.config.role_slugs.school_admin)
    names = defaultdict(list)
    for school_id, email in requests:
        names[email].append(schools[school_id]["name"])
    login_url = rt.network.login_url(conn, access.site) if result.created or result.reinvited else ""
    for email, account in {**result.created, **result.reinvited}.items():
        subject, text, body = welcome_mail(access.site, login_url, account, sorted(set(names[email])))
        result.invitations[email] = queue_mail(
            conn, rt.network_tables.mail_outbox, site_id=access.site.id, to=email, subject=subject, body_text=text,
            body_html=body, user_id=account.user_id, purpose=INVITATION)
    return result


def _invitation(mail_id: int | None) -> dict | None:
    """The just-queued invitation as the add-admin result reports it: queued, not yet sent."""
    if mail_id is None:
        return None
    return {"mail_id": mail_id, "status": PENDING, "message": INVITATION_STATUS_TEXT[PENDING]}


def _send_soon() -> None:
    """Ask the scheduler to run the mail sender now rather than at the next minute (when it is alive)."""
    rt = runtime()
    with rt.engine.connect() as conn:
        beat = freshest_scheduler(conn, rt.network_tables)
        busy = active_run(conn, rt.network_tables, "mail-outbox", None)
    if beat is not None and busy is None:
        create_run(rt, "mail-outbox", site_id=None, trigger="api", requested_by=caller().user_id or None)


@blp.route("/sites/<int:site_id>/school-stats")
@with_site(*MANAGERS)
@responds(blp, 200)
def stats(site_id, access):
    """Every school in name order with its admins; totals count the schools without any admin."""
    conn = db()
    admins = school_stats(conn, runtime().network, access.tables, site_id, runtime().config.role_slugs.school_admin)
    schools = [{"id": s["id"], "name": s["name"], "type": s["type"], "vestigingen": s["vestigingen"],
                "admins": admins.get(s["id"], [])} for s in list_schools(conn, access.tables)]
    return {"schools": schools, "totals": {
        "schools": len(schools), "schools_without_admin": sum(1 for s in schools if not s["admins"]),
        "admins": len({a["user_id"] for s in schools for a in s["admins"]}),
        "links": sum(len(s["admins"]) for s in schools)}}


class AddAdminSchema(Schema):
    email = fields.String(required=True, validate=validate.Length(1, 200))


@blp.route("/sites/<int:site_id>/schools/<int:school_id>/admins", methods=["POST"])
@with_site(*MANAGERS)
@blp.doc(requestBody={"required": True, "content": {"application/json": {"schema": AddAdminSchema}}})
@responds(blp, 201)
def add(site_id, school_id, access):
    """Link a school admin by e-mail; a new address gets a WordPress account and a set-password e-mail."""
    body = json_body()
    unknown = sorted(set(body) - {"email"})
    if unknown or not isinstance(body.get("email"), str):
        raise ApiError(422, "validation_failed", "Stuur {\"email\": \"…\"}.",
                       errors=[{"field": f, "message": "Onbekend veld."} for f in unknown]
                       + ([] if isinstance(body.get("email"), str) else [{"field": "email", "message": "Verplicht: een e-mailadres."}]))
    try:
        email = normalise_email(body["email"])
    except ValueError as exc:
        raise ApiError(422, "validation_failed", f"email: {exc}", errors=[{"field": "email", "message": str(exc)}]) from None
    school = require_school(db(), access.tables, school_id)
    with write_transaction():
        result = _add(access, [(school_id, email)], {school_id: school})
    created = email in result.created
    queued = email in result.invitations
    if queued:
        _send_soon()
    already = bool(result.already)
    return ({"user_id": result.users[email], "created": created, "already_admin": already,
             "role_restored": bool(result.restored), "email_queued": queued,
             "invitation": _invitation(result.invitations.get(email)), **_wordpress(result.wordpress)},
            200 if already else 201)


def _wordpress(effects) -> dict:
    """What the plugin must do after the write (``wordpress``); ``invalidate_user_cache`` is kept for plugins
    that read only that."""
    return {"invalidate_user_cache": sorted(effects.clean_user_cache), "wordpress": effects.as_json()}


@blp.route("/sites/<int:site_id>/schools/<int:school_id>/admins/<int:user_id>", methods=["DELETE"])
@with_site(*MANAGERS)
@responds(blp, 200)
def remove(site_id, school_id, user_id, access):
    """Unlink; the user loses the school admin role on this site when no other school of it is left (with no
    other role there, as WordPress's remove_user_from_blog())."""
    require_school(db(), access.tables, school_id)
    with write_transaction() as conn:
        removed = remove_admin(conn, runtime().network, access.tables, site_id, school_id, user_id,
                               access.actor(), runtime().config.role_slugs.school_admin)
        if removed is None:
            raise ApiError(404, "admin_not_found", f"gebruiker {user_id} is geen beheerder van school {school_id}")
    role_removed, effects = removed
    return {"removed": True, "role_removed": role_removed, **_wordpress(effects)}


class OutboxQuery(Schema):
    status = fields.String(load_default=None, validate=validate.OneOf(STATUSES))
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 1000))
    cursor = fields.String(load_default=None, metadata={"description": "next_cursor of the previous page"})



def mail_json(row) -> dict:
    """One outbox row as both outbox lists show it: never the body (it holds the set-password key)."""
    return {"id": int(row.id), "site": row.site_id, "user_id": None if row.user_id is None else int(row.user_id),
            "purpose": row.purpose, "to": row.to_address, "subject": row.subject, "status": row.status,
            "status_text": INVITATION_STATUS_TEXT[row.status] if row.purpose == INVITATION else None,
            "attempts": row.attempts, "next_attempt_at": utc_text(row.next_attempt_at), "last_error": row.last_error,
            "created_at": utc_text(row.created_at), "sent_at": utc_text(row.sent_at)}


def _mail_page(query, site_id: int | None) -> dict:
    rows, before = list_mails(db(), runtime().network_tables.mail_outbox, site_id=site_id, status=query["status"],
                              before_id=decode_cursor(query["cursor"]), limit=query["limit"])
    return {"mails": [mail_json(row) for row in rows], "next_cursor": encode_cursor(before)}


@blp.route("/mail/outbox")
@blp.arguments(OutboxQuery, location="query")
@responds(blp, 200)
def outbox(query):
    """Every queued, sent, failed, cancelled or expired mail of the network (operators), newest first,
    without bodies: ``{"mails": [...], "next_cursor": string|null}``."""
    message = "enkel netwerkbeheerders zien de wachtrij van alle e-mails"
    if not network_caller(message).operator:
        raise ApiError(403, "forbidden", message)
    return _mail_page(query, None)


@blp.route("/sites/<int:site_id>/mail/outbox")
@with_site(*MANAGERS)
@blp.arguments(OutboxQuery, location="query")
@responds(blp, 200)
def site_outbox(query, site_id, access):
    """The delivery state of this site's mails (its invitations), for its LOP experts and operators: newest
    first, without bodies, ``{"mails": [...], "next_cursor": string|null}``."""
    return _mail_page(query, site_id)


# --- the Excel template and the bulk import ----------------------------------------------------


@blp.route("/sites/<int:site_id>/imports/school-admins/template.xlsx")
@with_site(*MANAGERS)
@responds(blp, 200)
def template(site_id, access):
    """The Dutch template: a sheet to fill in (with a school dropdown), the site's schools, instructions."""
    schools = list_schools(db(), access.tables)
    workbook = Workbook()
    fill = workbook.active
    fill.title = "Schoolbeheerders"
    append_row(fill, TEMPLATE_HEADINGS)
    for cell in fill[1]:
        cell.font = Font(bold=True)
    for column, width in zip("ABC", (18, 45, 40), strict=True):
        fill.column_dimensions[column].width = width
    fill.freeze_panes = "A2"
    for row in range(2, MAX_ROWS + 2):
        fill.cell(row=row, column=1).number_format = "@"
    listing = workbook.create_sheet("Scholen")
    append_row(listing, ["Instellingsnummer", "Schoolnaam", "Vestigingen", "Type"])
    for cell in listing[1]:
        cell.font = Font(bold=True)
    for school in schools:
        numbers = ", ".join(dict.fromkeys(format_instellingsnummer(v["instellingsnummer"]) for v in school["vestigingen"]))
        locations = ", ".join(f"{format_instellingsnummer(v['instellingsnummer'])}-{v['vestigingsnummer']}"
                              for v in school["vestigingen"])
        append_row(listing, [numbers, school["name"], locations, school["type"]])
    listing.column_dimensions["A"].width, listing.column_dimensions["B"].width = 18, 45
    listing.column_dimensions["C"].width = 30
    listing.protection.sheet = True  # read-only: it is the list the dropdown uses
    if schools:
        validation = DataValidation(type="list", formula1=f"=Scholen!$B$2:$B${len(schools) + 1}", allow_blank=True,
                                    showErrorMessage=True, errorTitle="Onbekende school",
                                    error="Kies een school uit de lijst (tabblad Scholen).")
        fill.add_data_validation(validation)
        validation.add(f"B2:B{MAX_ROWS + 1}")
    help_sheet = workbook.create_sheet("Instructies")
    for line in (
        "Schoolbeheerders in bulk toevoegen",
        "",
        ("1. Vul op het tabblad 'Schoolbeheerders' per rij één schoolbeheerder in: het instellingsnummer, de school "
         "(kies uit de lijst) en het e-mailadres."),
        "2. Eén persoon voor meerdere scholen? Gebruik één rij per school, met hetzelfde e-mailadres.",
        "3. Lege rijen worden overgeslagen. Hoogstens 5.000 rijen.",
        ("4. Laad het bestand op bij Extra's > Import. Eerst wordt alles nagekeken: bij een fout wordt niets "
         "toegevoegd en krijg je per rij te zien wat er niet klopt."),
        "5. Wie nog geen account heeft, krijgt een e-mail om een wachtwoord in te stellen.",
        f"Het tabblad 'Scholen' toont de {len(schools)} scholen van {site_display_name(access.site)}.",
    ):
        append_row(help_sheet, [line])
    help_sheet["A1"].font = Font(bold=True, size=14)
    help_sheet.column_dimensions["A"].width = 120
    buffer = io.BytesIO()
    workbook.save(buffer)
    response = Response(buffer.getvalue(), mimetype=XLSX_TYPE)
    name = export_file_name("schoolbeheerders", access.site)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.xlsx"'
    return response


class ImportQuery(Schema):
    dry_run = fields.Boolean(load_default=False)
    report = fields.String(load_default="json", validate=validate.OneOf(["json", "xlsx"]))


def _refuse(message: str, column: str | None = None):
    raise ApiError(422, "import_refused", message, errors=[{"row": None, "column": column, "message": message}])


def _read_upload() -> bytes:
    upload = request.files.get("file")
    if upload is None:
        raise ApiError(422, "validation_failed", "file: laad het ingevulde sjabloon op als multipart-veld 'file'.",
                       errors=[{"field": "file", "message": "Verplicht: het ingevulde sjabloon."}])
    data = upload.read(MAX_IMPORT_BYTES + 1)
    if len(data) > MAX_IMPORT_BYTES:
        _refuse("het bestand is groter dan 5 MB")
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        _refuse("het bestand is met een wachtwoord beveiligd of een oud .xls-bestand: bewaar het als gewoon .xlsx")
    if not data.startswith(b"PK\x03\x04"):
        _refuse("dit is geen Excel-bestand (.xlsx)")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
            if sum(info.file_size for info in archive.infolist()) > MAX_UNPACKED_BYTES:
                _refuse("het bestand pakt uit tot meer dan 100 MB: dat is geen gewone lijst")
            if any(name.lower().endswith("vbaproject.bin") for name in names) or \
                    b"macroEnabled" in archive.read("[Content_Types].xml"):
                _refuse("het bestand bevat macro's: bewaar het als gewoon .xlsx zonder macro's")
    except (zipfile.BadZipFile, KeyError):
        _refuse("dit is geen geldig Excel-bestand (.xlsx)")
    return data


MAX_COLUMNS = 10  # the template has 3; a cell far to the right must not make the reader pad 16,384 columns
_CELL_REF = re.compile(r"([A-Z]{1,3})([0-9]{1,7})")
_CELL_TYPES = {None, "s", "str", "inlineStr", "n", "b", "e"}


def _scan_sheets(data: bytes) -> None:
    """Look at every worksheet's XML as a stream before openpyxl does: a row numbered past the header and
    5,000 rows (a 7 KB file can declare row 4,000,000 and make a reader build every row before it) is
    refused as soon as it is met; a malformed cell reference or an unexpected cell type is refused naming
    the cell."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for name in archive.namelist():
            if not (name.startswith("xl/worksheets/") and name.endswith(".xml")):
                continue
            with archive.open(name) as xml:
                try:
                    for _event, element in iterparse(xml, events=("start",)):
                        tag = element.tag.rsplit("}", 1)[-1]
                        if tag == "row":
                            number = element.get("r")
                            if number is not None and (not number.isascii() or not number.isdigit()
                                                       or int(number) > MAX_ROWS + 1):
                                _refuse(f"meer dan {MAX_ROWS} rijen: het bestand heeft een rij {number[:12]}")
                        elif tag == "c":
                            ref, kind = element.get("r"), element.get("t")
                            if ref is not None and not _CELL_REF.fullmatch(ref):
                                _refuse(f"cel '{ref[:20]}': geen geldige celverwijzing", ref[:20])
                            if kind not in _CELL_TYPES:
                                _refuse(f"cel {ref or '?'}: onverwacht celtype '{kind[:10]}'", ref)
                except (ParseError, ValueError):  # malformed XML, or entities defusedxml refuses
                    _refuse("het bestand kan niet gelezen worden als Excel-werkmap")


def _rows(data: bytes) -> list[tuple[int, dict]]:
    _scan_sheets(data)
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # noqa: BLE001 — any parse failure (incl. a refused XML bomb) is a bad file
        _refuse("het bestand kan niet gelezen worden als Excel-werkmap")
    sheet = workbook["Schoolbeheerders"] if "Schoolbeheerders" in workbook.sheetnames else workbook.worksheets[0]
    iterator = sheet.iter_rows(values_only=True, max_col=MAX_COLUMNS)
    header = next(iterator, None) or []
    index, errors = map_headings(list(header))
    if errors:
        raise ApiError(422, "validation_failed", missing_columns_text([e.column for e in errors]),
                       errors=[e.as_json() for e in errors])
    rows = []
    for number, values in enumerate(iterator, start=2):
        if number - 1 > MAX_ROWS and any(v not in (None, "") for v in values):
            workbook.close()
            _refuse(f"meer dan {MAX_ROWS} rijen")
        cells = {field: values[position] if position < len(values) else None for field, position in index.items()}
        rows.append((number, cells))
    workbook.close()
    return rows


@blp.route("/sites/<int:site_id>/imports/school-admins", methods=["POST"])
@with_site(*MANAGERS)
@blp.arguments(ImportQuery, location="query")
@responds(blp, 200)
def import_admins(query, site_id, access):
    """Check every row first; any error → 422 with all of them and nothing applied (with ``?report=xlsx``: the
    file back with a status column explaining each error). Otherwise all rows in one transaction.
    ``?dry_run=true`` only checks; ``?report=xlsx`` returns the file with a status column."""
    data = _read_upload()
    rows = _rows(data)
    schools = {s["id"]: s for s in list_schools(db(), access.tables)}
    requests, errors = check_rows(rows, list(schools.values()))
    if not requests and not errors:
        _refuse(NO_ROWS)
    if errors:
        return _invalid(query, data, requests, [e.as_json() for e in errors])
    pairs = [(school_id, email) for _row, school_id, email in requests]
    if query["dry_run"]:
        existing = users_by_email(db(), runtime().network, [e for _s, e in pairs])
        new = {e for _s, e in pairs if e not in existing}
        return {"rows": len(requests), "linked": None, "already_admin": None, "users_created": len(new),
                "emails_queued": len(new), "dry_run": True,
                "message": f"Proef: {len(requests)} rij(en) in orde, {len(new)} nieuw(e) account(s). Er werd niets gewijzigd."}
    try:
        with write_transaction():
            result = _add(access, pairs, schools, source="import")
            fault_point("import.before_commit")
    except UnreadableWordPressValue as exc:
        return _invalid(query, data, requests, _unreadable_rows(exc, requests))
    if result.invitations:
        _send_soon()
    if query["report"] == "xlsx":
        response = _report_file(data, _done_statuses(requests, result), "import-schoolbeheerders-verslag.xlsx")
        response.headers["X-LOP-WordPress"] = result.wordpress.header()
        return response
    created = len(result.created)
    return {"rows": len(requests), "linked": len(result.linked), "already_admin": len(result.already),
            "roles_restored": len(result.restored), "users_created": created, "emails_queued": len(result.invitations),
            "dry_run": False,
            "message": f"{len(requests)} rij(en) verwerkt: {len(result.linked)} gekoppeld, {len(result.already)} al "
                       f"schoolbeheerder, {created} nieuw(e) account(s)"
                       + (f" ({INVITATION_STATUS_TEXT[PENDING]})." if created else "."),
            **_wordpress(result.wordpress)}


def _invalid(query, data: bytes, requests, errors: list[dict]):
    """A file with errors: nothing was applied. 422 with every error as JSON, or with ``report=xlsx`` the
    uploaded file with a status column explaining each row (also 422)."""
    detail = f"{len(errors)} fout(en) in het bestand: niets toegevoegd"
    if query["report"] != "xlsx":
        raise ApiError(422, "import_invalid", detail, errors=errors, error_limit=None)
    by_row: dict[int, list[str]] = defaultdict(list)
    for error in errors:
        by_row[error["row"]].append(f"{error['column']}: {error['message']}" if error["column"] else error["message"])
    statuses = {row: (True, "FOUT – " + "; ".join(messages)) for row, messages in by_row.items() if row is not None}
    for row, _school, _email in requests:
        statuses.setdefault(row, (False, "in orde, maar niet toegevoegd: het bestand bevat fouten"))
    response = _report_file(data, statuses, "import-schoolbeheerders-fouten.xlsx")
    response.status_code = 422
    response.headers["X-LOP-Error-Code"] = "import_invalid"
    return response


def _unreadable_rows(exc: UnreadableWordPressValue, requests) -> list[dict]:
    """An import that would overwrite unreadable WordPress roles: an error on each row of those users."""
    users = users_by_email(db(), runtime().network, sorted({email for _row, _school, email in requests}))
    keys = dict(exc.values)
    return [{"row": row, "column": "E-mailadres", "message": (
                f"de WordPress-rollen van deze gebruiker ({keys[users[email]]}) zijn onleesbaar en worden niet "
                "overschreven: laat een WordPress-beheerder deze gebruiker nakijken")}
            for row, _school, email in requests if users.get(email) in keys]


def _done_statuses(requests, result) -> dict[int, tuple[bool, str]]:
    """row -> (is an error, status text) after a successful import."""
    already = set(result.already)
    statuses = {}
    for row, school_id, email in requests:
        user_id = result.users[email]
        if (school_id, user_id) in already:
            status = "was al schoolbeheerder" + (", rol hersteld" if user_id in result.restored else "")
        elif email in result.created:
            status = f"toegevoegd, nieuw account ({INVITATION_STATUS_TEXT[PENDING]})"
        elif email in result.reinvited:
            status = f"toegevoegd, nieuwe uitnodiging ({INVITATION_STATUS_TEXT[PENDING]})"
        else:
            status = "toegevoegd"
        statuses[row] = (False, status)
    return statuses


_ERROR_FILL = PatternFill("solid", fgColor="FFC7CE")


def _report_file(data: bytes, statuses: dict[int, tuple[bool, str]], filename: str) -> Response:
    """The uploaded workbook with a 'Status' column (a 'Status' column already there, as in an earlier report,
    is reused); error rows in red."""
    workbook = load_workbook(io.BytesIO(data))
    sheet = workbook["Schoolbeheerders"] if "Schoolbeheerders" in workbook.sheetnames else workbook.worksheets[0]
    column = next((cell.column for cell in sheet[1] if str(cell.value or "").strip().lower() == "status"),
                  sheet.max_column + 1)
    for (row,) in sheet.iter_rows(min_row=2, min_col=column, max_col=column):
        row.value, row.fill = None, PatternFill()
    sheet.cell(row=1, column=column, value="Status").font = Font(bold=True)
    sheet.column_dimensions[sheet.cell(row=1, column=column).column_letter].width = 70
    for row, (is_error, status) in sorted(statuses.items()):
        cell = sheet.cell(row=row, column=column, value=status)
        cell.data_type = "s"
        if is_error:
            cell.fill = _ERROR_FILL
    buffer = io.BytesIO()
    workbook.save(buffer)
    response = Response(buffer.getvalue(), mimetype=XLSX_TYPE)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
