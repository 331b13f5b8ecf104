from __future__ import annotations

import datetime as dt
import re

from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from rules.roles import MANAGERS
from wp_bridge.audit_read import LogFilter, NameBook, page, stream

from ..errors import ApiError
from ..exports import Column, download
from ..runtime import close_db, db, runtime
from . import decode_cursor, encode_cursor, id_field, responds, with_site

blp = Blueprint("log", __name__, url_prefix="/api/v1", description="The audit log of a LOP site")


class FilterSchema(Schema):
    school = id_field(load_default=None)
    user = id_field(minimum=0, load_default=None)
    action = fields.String(load_default=None, validate=validate.Length(1, 32))
    entity = fields.String(load_default=None, validate=validate.Length(1, 32))
    from_ = fields.String(data_key="from", load_default=None,
                          metadata={"description": "a date (local Brussels midnight) or an ISO date-time"})
    to = fields.String(load_default=None, metadata={"description": "a date (that whole day included) or an ISO date-time"})


class PageQuerySchema(FilterSchema):
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 500))
    cursor = fields.String(load_default=None, metadata={"description": "next_cursor of the previous page"})


class ExportQuerySchema(FilterSchema):
    format = fields.String(load_default="csv", validate=validate.OneOf(["csv", "xlsx"]))


def _instant(value: str, name: str, *, end: bool) -> dt.datetime | None:
    """The UTC instant a ``from``/``to`` value names; None (no bound) at the edges of time, where the day
    after 9999-12-31 or UTC before 0001-01-01 01:00 Brussels cannot be written."""
    tz = runtime().config.tz
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            day = dt.date.fromisoformat(value) + dt.timedelta(days=1 if end else 0)
            local = dt.datetime.combine(day, dt.time(), tz)
        else:
            local = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            if local.tzinfo is None:
                local = local.replace(tzinfo=tz)
    except OverflowError:
        return None
    except ValueError:
        raise ApiError(422, "validation_failed", f"{name}: geen datum of ISO-datum-tijd",
                       errors=[{"field": name, "location": "query", "message": "geen datum of ISO-datum-tijd"}]) from None
    try:
        return local.astimezone(dt.timezone.utc).replace(tzinfo=None)
    except OverflowError:
        return None


def _filter(query) -> LogFilter:
    return LogFilter(
        school=query["school"], user=query["user"], action=query["action"], entity=query["entity"],
        since=_instant(query["from_"], "from", end=False) if query["from_"] else None,
        until=_instant(query["to"], "to", end=True) if query["to"] else None,
    )


def entry_json(row) -> dict:
    tz = runtime().config.tz
    occurred = row.occurred_at.replace(tzinfo=dt.timezone.utc)
    return {
        "id": int(row.id),
        "occurred_at": occurred.isoformat().replace("+00:00", "Z"),
        "occurred_at_local": occurred.astimezone(tz).isoformat(),
        "user": {"id": int(row.user_id), "login": row.user_login, "display_name": row.user_display_name,
                 "role": row.user_role},
        "switched_from": None if row.switched_from_user_id is None else {
            "id": int(row.switched_from_user_id), "login": row.switched_login, "display_name": row.switched_display_name},
        "source": row.source,
        "school": None if row.school_id is None else {"id": int(row.school_id), "name": row.school_name},
        "entity": row.entity, "entity_id": row.entity_id, "action": row.action, "field": row.field,
        "old_value": row.old_value, "new_value": row.new_value, "request_id": row.request_id,
    }


@blp.route("/sites/<int:site_id>/log")
@with_site(*MANAGERS)
@blp.arguments(PageQuerySchema, location="query")
@responds(blp, 200)
def log_page(query, site_id, access):
    """The log newest first, a page at a time: ``{"entries": [...], "next_cursor": string|null}``."""
    rows, before = page(db(), access.tables, runtime().network.core, _filter(query),
                        before_id=decode_cursor(query["cursor"]), limit=query["limit"])
    return {"entries": [entry_json(row) for row in rows], "next_cursor": encode_cursor(before)}


LOG_COLUMNS = [
    Column("Tijdstip (Brussel)", 20), Column("Tijdstip (UTC)", 20), Column("Gebruiker", 18), Column("Naam", 24),
    Column("Rol", 12), Column("Via account van", 18), Column("Bron", 12), Column("School-ID", 9), Column("School", 30),
    Column("Onderdeel", 12), Column("ID", 9), Column("Actie", 12), Column("Veld", 20), Column("Oude waarde", 30),
    Column("Nieuwe waarde", 30), Column("Verzoek-ID", 16),
]


def log_rows(rows, tz, people: dict, schools: dict, *, with_id: bool = False, datetimes: bool = False):
    """Export rows of ``stream`` rows (see STREAM_COLUMNS); names come from a ``NameBook``'s maps. Times are
    "YYYY-MM-DD HH:MM:SS" texts, local first, or datetimes with ``datetimes`` (Excel date cells). ``with_id``
    puts the log id first (the prune archive)."""
    nobody = ("", "")
    local_hours: dict[str, str | None] = {}
    for (_id, occurred, user_id, login, role, switched_id, source, school_id, entity, entity_id, action, field, old,
         new, request_id) in rows:
        hour = occurred[:13]
        if hour not in local_hours:
            local_hours[hour] = local_hour_text(hour, tz)
        local_hour = local_hours[hour]
        local = local_hour + occurred[13:] if local_hour is not None else local_time_text(occurred, tz)
        if datetimes:
            local, occurred = dt.datetime.fromisoformat(local), dt.datetime.fromisoformat(occurred)
        yield (*((_id,) if with_id else ()), local, occurred, login,
               people.get(user_id, nobody)[1], role, people.get(switched_id, nobody)[0] if switched_id else None,
               source, school_id, schools.get(school_id), entity, entity_id, action, field, old, new, request_id)


def local_hour_text(utc_hour: str, tz) -> str | None:
    """The local "YYYY-MM-DD HH" of a UTC "YYYY-MM-DD HH", or None where the offset is not whole hours (then
    minutes and seconds do not carry over unchanged)."""
    instant = dt.datetime.fromisoformat(utc_hour + ":00").replace(tzinfo=dt.timezone.utc).astimezone(tz)
    return instant.strftime("%Y-%m-%d %H") if instant.utcoffset() % dt.timedelta(hours=1) == dt.timedelta(0) else None


def local_time_text(utc_text: str, tz) -> str:
    return dt.datetime.fromisoformat(utc_text).replace(tzinfo=dt.timezone.utc).astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")


@blp.route("/sites/<int:site_id>/log/export")
@with_site(*MANAGERS)
@blp.arguments(ExportQuerySchema, location="query")
@responds(blp, 200)
def log_export(query, site_id, access):
    """The whole (filtered) log newest first, streamed as CSV (UTF-8 with BOM, ``;``, CRLF) or XLSX."""
    rt = runtime()
    close_db()  # end the request's transaction now: the stream reads on its own connection (SQLite: one writer)
    book = NameBook(rt.engine, access.tables, rt.network.core)
    rows = stream(rt.engine, access.tables, rt.network.core, _filter(query), names=book)
    filename = f"logbestand-site{site_id}-{rt.today().isoformat()}"
    return download(filename, query["format"], "Logbestand", LOG_COLUMNS,
                    log_rows(rows, rt.config.tz, book.people, book.schools, datetimes=query["format"] == "xlsx"))
