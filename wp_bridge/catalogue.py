"""The administrative-group catalogue (network level): lookups, search and the bulk sync."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

from sqlalchemy import Connection, String, and_, case, cast, func, literal, select, update
from sqlalchemy.dialects import mysql, sqlite

from rules.agodi import AN_ENTRY, WRITTEN, CatalogueDiff, ParsedFile
from rules.offerings import AN_ADMGR
from rules.text import fold

from .db import is_mysql, utcnow
from .faults import fault_point
from .tables import NetworkTables

CHUNK = 1000
STORED = ("code", "description", "onderwijsniveau", "onderwijsvorm", "graad", "leerjaar", "structuuronderdeel",
          "begin_date", "end_date", "stage", "active")


def get_admgr(conn: Connection, nt: NetworkTables, code: int):
    return conn.execute(select(nt.admgr).where(nt.admgr.c.code == code)).first()


def item_json(row) -> dict:
    return {
        "code": row.code, "description": row.description, "onderwijsniveau": row.onderwijsniveau,
        "onderwijsvorm": row.onderwijsvorm, "graad": row.graad, "leerjaar": row.leerjaar,
        "structuuronderdeel": row.structuuronderdeel, "stage": row.stage,
        "begin_date": row.begin_date.isoformat() if row.begin_date else None,
        "end_date": row.end_date.isoformat() if row.end_date else None,
        "active": bool(row.active), "inactive_since": row.inactive_since.isoformat() if row.inactive_since else None,
    }


def search(conn: Connection, nt: NetworkTables, q: str | None, *, level: str | None, active: bool | None,
           limit: int) -> list:
    """By code prefix or by words of the description (every word, case- and accent-insensitive); entries in
    which every word is a whole word ("AN", "klas") come first."""
    a = nt.admgr
    query = select(a)
    if active is not None:
        query = query.where(a.c.active == active)
    if level:
        query = query.where(a.c.onderwijsniveau == level)
    text = (q or "").strip()
    if re.fullmatch(r"[0-9]{1,18}", text):  # ASCII digits: a code prefix (str.isdigit() also takes "³")
        query = query.where(cast(a.c.code, String).like(f"{text}%"))
        query = query.order_by((a.c.code == int(text)).desc(), a.c.code)
    else:
        wanted = words(text)
        if wanted:
            query = query.where(and_(*[a.c.search_text.like(f"%{_escape(w)}%", escape="\\") for w in wanted]))
            spaced = literal(" ") + a.c.search_text + literal(" ")
            whole = and_(*[spaced.like(f"% {_escape(w)} %", escape="\\") for w in wanted])
            query = query.order_by(case((whole, 0), else_=1), a.c.description, a.c.code)
        else:
            query = query.order_by(a.c.description, a.c.code)
    return conn.execute(query.limit(limit)).all()


def _escape(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def load_current(conn: Connection, nt: NetworkTables) -> dict[int, dict]:
    a = nt.admgr
    return {row.code: {f: getattr(row, f) for f in STORED} | {"active": bool(row.active)}
            for row in conn.execute(select(*[a.c[f] for f in STORED]))}


def active_count(conn: Connection, nt: NetworkTables) -> int:
    """Active codes that AgODi's file should hold (AN, the LOPs' own code, is not in it)."""
    a = nt.admgr
    return conn.execute(select(func.count()).select_from(a).where(a.c.active.is_(True), a.c.code != AN_ADMGR)).scalar_one()


def apply_diff(conn: Connection, nt: NetworkTables, parsed: ParsedFile, diff: CatalogueDiff, today: dt.date,
               progress: Callable[[int, int], None] | None = None) -> None:
    """Write a sync in bulk: multi-row upserts of the added and changed rows (only the columns the file
    has), then the deactivations. Unchanged rows are not touched."""
    a = nt.admgr
    now = utcnow()
    columns = [f for f in parsed.present if f in WRITTEN]
    rows = [{**{f: row.get(f) for f in columns}, "active": True, "inactive_since": None, "updated_at": now,
             "search_text": search_text(row["code"], row["description"])} for row in diff.added + diff.updated]
    total = len(rows) + len(diff.deactivated)
    done = 0
    set_columns = [c for c in columns if c != "code"] + ["active", "inactive_since", "updated_at", "search_text"]
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start:start + CHUNK]
        upsert(conn, a, chunk, set_columns)
        fault_point("agodi.batch")
        done += len(chunk)
        if progress:
            progress(done, total)
    for start in range(0, len(diff.deactivated), CHUNK):
        codes = diff.deactivated[start:start + CHUNK]
        conn.execute(update(a).where(a.c.code.in_(codes)).values(active=False, inactive_since=today, updated_at=now))
        done += len(codes)
        if progress:
            progress(done, total)
    if diff.an:
        ensure_an(conn, nt)


def ensure_an(conn: Connection, nt: NetworkTables) -> None:
    """AN (10000) in the catalogue and active: inserted when missing, reactivated when inactive (its other
    values, if stored, stay)."""
    a = nt.admgr
    now = utcnow()
    searchable = search_text(AN_ADMGR, AN_ENTRY["description"])  # "an", "anderstalige", "nieuwkomers"
    if conn.execute(update(a).where(a.c.code == AN_ADMGR).values(active=True, inactive_since=None, updated_at=now,
                                                                  search_text=searchable)).rowcount == 0:
        conn.execute(a.insert().values(**AN_ENTRY, active=True, updated_at=now, search_text=searchable))


def upsert(conn: Connection, table, rows: list[dict], set_columns: list[str]) -> None:
    """Insert rows, or update ``set_columns`` of the rows whose key exists: one statement executed for many
    rows, which the driver and SQLAlchemy send as multi-row INSERT … VALUES batches (MySQL: ON DUPLICATE
    KEY UPDATE; SQLite: ON CONFLICT DO UPDATE) — never a query per row."""
    if not rows:
        return
    if is_mysql(conn):
        statement = mysql.insert(table)
        statement = statement.on_duplicate_key_update({c: statement.inserted[c] for c in set_columns})
    else:
        statement = sqlite.insert(table)
        statement = statement.on_conflict_do_update(index_elements=list(table.primary_key.columns),
                                                    set_={c: statement.excluded[c] for c in set_columns})
    conn.execute(statement, rows)


def words(text: str | None) -> list[str]:
    """Lower-case words without accents or punctuation: how descriptions are searched."""
    return re.findall(r"[0-9a-z]+", fold(text))


def fold_words(text: str) -> str:
    return " ".join(words(text))[:255]


def search_text(code: int, description: str | None) -> str:
    """What the word search looks in: the folded description; AN (10000) is also found as "AN"."""
    folded = words(description)
    if code == AN_ADMGR and "an" not in folded:
        folded.append("an")
    return " ".join(folded)[:255]

