from __future__ import annotations

import datetime as dt
import json
import re

from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from rules.audit_text import ACTIONS, ENTITIES, FIELDS, ROLES, SOURCES, readable, word
from rules.roles import MANAGERS
from wp_bridge.audit_read import LogFilter, NameBook, page, stream

from ..errors import ApiError
from ..exports import Column, download
from ..spreadsheets import export_file_name, site_display_name
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
            local = dt.datetime.fromisoformat(value)  # Python 3.11 reads a trailing Z
            if local.tzinfo is None:
                local = local.replace(tzinfo=tz)
    except OverflowError:
        return None
    except ValueError:
        raise ApiError(422, "validation_failed", f"{name}: geen datum of ISO-datum-tijd",
                       errors=[{"field": name, "location": "query", "message": "geen datum of ISO-datum-tijd"}]) from None
    try:
        return local.astimezone(dt.UTC).replace(tzinfo=None)
    except OverflowError:
        return None


def _filter(query) -> LogFilter:
    return LogFilter(
        school=query["school"], user=query["user"], action=query["action"], entity=query["entity"],
        since=_instant(query["from_"], "from", end=False) if query["from_"] else None,
        until=_instant(query["to"], "to", end=True) if query["to"] else None,
    )


def entry_json(row) -> dict:
    """One log entry with its codes. ``school.name`` is the school's name now (null once it is deleted);
    ``school_name`` the name when the entry was written (entries from before that was stored: the name now);
    ``offering`` what the entry was about at the time (null for other entries and for older ones); ``text`` the
    codes and values as the downloads word them (Dutch, for the plugin's Logbestand page)."""
    tz = runtime().config.tz
    occurred = row.occurred_at.replace(tzinfo=dt.UTC)
    return {
        "id": int(row.id),
        "occurred_at": occurred.isoformat().replace("+00:00", "Z"),
        "occurred_at_local": occurred.astimezone(tz).isoformat(),
        "user": {"id": int(row.user_id), "login": row.user_login, "display_name": row.user_display_name,
                 "role": row.user_role},
        "switched_from": None if row.switched_from_user_id is None else {
            "id": int(row.switched_from_user_id), "login": row.switched_login, "display_name": row.switched_display_name},
        "source": row.source,
        "school": None if row.school_id is None else {"id": int(row.school_id), "name": row.current_school_name},
        "school_name": row.school_name if row.school_name is not None else row.current_school_name,
        "offering": json.loads(row.offering) if row.offering else None,
        "entity": row.entity, "entity_id": row.entity_id, "action": row.action, "field": row.field,
        "old_value": row.old_value, "new_value": row.new_value, "request_id": row.request_id,
        "text": {"role": word(ROLES, row.user_role), "source": word(SOURCES, row.source), "entity": word(ENTITIES, row.entity), "action": word(ACTIONS, row.action), "field": word(FIELDS, row.field), "old_value": readable(row.field, row.old_value, tz), "new_value": readable(row.field, row.new_value, tz)},
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


# The downloads of the log, for people: Dutch words (rules.audit_text), readable values, Brussels time.
LOG_COLUMNS = [
    Column("Tijdstip", 19, "dd/mm/yyyy hh:mm:ss"), Column("Gebruiker", 18), Column("Naam", 24), Column("Rol", 16),
    Column("Via account van", 18), Column("Bron", 16), Column("School", 30), Column("Opleiding", 36),
    Column("Administratieve groep", 12), Column("Schooljaar", 11), Column("Onderdeel", 14), Column("Actie", 16),
    Column("Veld", 24), Column("Oude waarde", 40), Column("Nieuwe waarde", 40),
]
# The prune archive keeps, after those, what the log stored exactly: nothing is lost when the rows go.
ARCHIVE_HEADINGS = ["Log-ID", *(c.heading for c in LOG_COLUMNS), "Tijdstip (UTC)", "School-ID", "Onderdeel-ID",
                    "Verzoek-ID", "Opgeslagen oude waarde", "Opgeslagen nieuwe waarde", "Codes (rol; bron; onderdeel; actie; veld)"]


def log_rows(rows, tz, people: dict, schools: dict, *, archive: bool = False, datetimes: bool = False):
    """Export rows of ``stream`` rows (see STREAM_COLUMNS); names come from a ``NameBook``'s maps. The time is
    the Brussels "DD/MM/YYYY HH:MM:SS" text, or a datetime with ``datetimes`` (an Excel date cell). ``archive``
    adds the log id first and the stored codes and values last (ARCHIVE_HEADINGS)."""
    nobody = ("", "")
    local_hours: dict[str, str | None] = {}
    offerings: dict[str, dict] = {}
    for (_id, occurred, user_id, login, role, switched_id, source, school_id, entity, entity_id, action, field, old,
         new, request_id, offering_text, school_name) in rows:
        hour = occurred[:13]
        if hour not in local_hours:
            local_hours[hour] = local_hour_text(hour, tz)
        local_hour = local_hours[hour]
        local = local_hour + occurred[13:] if local_hour is not None else local_time_text(occurred, tz)
        local = dt.datetime.fromisoformat(local) if datetimes else f"{local[8:10]}/{local[5:7]}/{local[:4]} {local[11:]}"
        offering = None
        if offering_text:
            offering = offerings.get(offering_text)
            if offering is None:
                if len(offerings) > 10_000:
                    offerings.clear()
                offering = offerings[offering_text] = json.loads(offering_text)
        row = (local, login, people.get(user_id, nobody)[1], word(ROLES, role),
               people.get(switched_id, nobody)[0] if switched_id else None, word(SOURCES, source),
               school_name if school_name is not None else schools.get(school_id),
               offering["name"] if offering else None, offering["admgr_code"] if offering else None,
               offering["school_year"] if offering else None, word(ENTITIES, entity), word(ACTIONS, action),
               word(FIELDS, field), readable(field, old, tz), readable(field, new, tz))
        if archive:
            row = (_id, *row, occurred, school_id, entity_id, request_id, old, new,
                   "; ".join(c or "" for c in (role, source, entity, action, field)))
        yield row


def local_hour_text(utc_hour: str, tz) -> str | None:
    """The local "YYYY-MM-DD HH" of a UTC "YYYY-MM-DD HH", or None where the offset is not whole hours (then
    minutes and seconds do not carry over unchanged)."""
    instant = dt.datetime.fromisoformat(utc_hour + ":00").replace(tzinfo=dt.UTC).astimezone(tz)
    return instant.strftime("%Y-%m-%d %H") if instant.utcoffset() % dt.timedelta(hours=1) == dt.timedelta(0) else None


def local_time_text(utc_text: str, tz) -> str:
    return dt.datetime.fromisoformat(utc_text).replace(tzinfo=dt.UTC).astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")


@blp.route("/sites/<int:site_id>/log/export")
@with_site(*MANAGERS)
@blp.arguments(ExportQuerySchema, location="query")
@responds(blp, 200)
def log_export(query, site_id, access):
    """The whole (filtered) log newest first, streamed as CSV (UTF-8 with BOM, ``;``, CRLF) or XLSX, for people:
    Dutch headings and words, readable values, Brussels time."""
    rt = runtime()
    close_db()  # end the request's transaction now: the stream reads on its own connection (SQLite: one writer)
    book = NameBook(rt.engine, access.tables, rt.network.core)
    rows = stream(rt.engine, access.tables, rt.network.core, _filter(query), names=book)
    now = dt.datetime.now(rt.config.tz)
    titles = [f"{site_display_name(access.site)} – Logbestand", f"Stand op {now:%d/%m/%Y %H:%M}"]
    return download(export_file_name("logbestand", access.site, now.date().isoformat()), query["format"], "Logbestand",
                    LOG_COLUMNS, log_rows(rows, rt.config.tz, book.people, book.schools, datetimes=query["format"] == "xlsx"),
                    title_rows=titles)
