"""The one audit-log writer. Every change to LOP data calls it inside the same transaction as the
change, so a change and its log rows are committed or rolled back together. Log rows are never
updated or deleted by the service."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from .db import utcnow
from .tables import SiteTables

SOURCES = ("api", "cli", "import")  # plus job names, e.g. "rollover", "ov-sync"


@dataclass(frozen=True)
class Actor:
    """Who makes a change, as it will be written in the log."""

    user_id: int  # 0 = the site or the system itself
    user_login: str
    user_role: str  # the sidecar role at that moment ("operator", "lop_expert", …) or "system"
    source: str  # "api", "cli", "import" or a job name
    switched_from_user_id: int | None = None
    request_id: str | None = None


@dataclass(frozen=True)
class Change:
    entity: str  # "school", "offering", "school_admin", "settings", …
    action: str  # "create", "update", "delete", …
    entity_id: int | None = None
    school_id: int | None = None
    field: str | None = None
    old: Any = None
    new: Any = None
    # What the row is about as it was at the time, stored with the row (the log outlives renames, deletions and
    # the rollover): every offering row carries ``offering_ref(...)``; a school's name is filled in by the writer
    # when the caller does not give it.
    offering: dict | None = None
    school_name: str | None = None


def offering_ref(offering_id: int, admgr_code: int, name: str | None, school_year: str) -> dict:
    """The offering a log row is about, as stored in ``audit_log.offering``."""
    return {"id": int(offering_id), "admgr_code": int(admgr_code), "name": name or "", "school_year": school_year}


def as_text(value: Any) -> str | None:
    """Values are stored as text: strings as they are, everything else as compact JSON."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def write_audit(conn: Connection, tables: SiteTables, site_id: int, actor: Actor, changes: Sequence[Change], *,
                school_names: Mapping[int, str] | None = None) -> None:
    """Append one row per change, in one multi-row insert, all with the same timestamp. A row about a school
    keeps the school's name: the change's own ``school_name``, else ``school_names`` (callers that have the
    names, or whose school is already deleted), else the name the school has now, in the same transaction (one
    query for all rows that lack it)."""
    if not changes:
        return
    if not conn.in_transaction():
        raise RuntimeError("the audit log is written inside the transaction of the change it records")
    if any(c.entity == "offering" and c.offering is None for c in changes):
        raise ValueError("every log row about an offering carries the offering (offering_ref)")
    names = dict(school_names or {})
    missing = {c.school_id for c in changes if c.school_id is not None and c.school_name is None} - names.keys()
    if missing:
        names.update(current_school_names(conn, tables, missing))
    now = utcnow()
    rows = [
        {
            "occurred_at": now,
            "site_id": site_id,
            "user_id": actor.user_id,
            "user_login": actor.user_login,
            "user_role": actor.user_role,
            "switched_from_user_id": actor.switched_from_user_id,
            "source": actor.source,
            "school_id": change.school_id,
            "entity": change.entity,
            "entity_id": change.entity_id,
            "action": change.action,
            "field": change.field,
            "old_value": as_text(change.old),
            "new_value": as_text(change.new),
            "request_id": actor.request_id,
            "offering": as_text(change.offering),
            "school_name": change.school_name if change.school_name is not None else names.get(change.school_id),
        }
        for change in changes
    ]
    # One row (the common edit) as a plain execute: the driver's executemany rewrites the statement with
    # regular expressions, which cost more than the insert itself.
    conn.execute(tables.audit_log.insert(), rows[0] if len(rows) == 1 else rows)


def current_school_names(conn: Connection, tables: SiteTables, school_ids: Iterable[int]) -> dict[int, str]:
    """The names the given schools have now (in bulk; schools that no longer exist are left out)."""
    ids = sorted(school_ids)
    s = tables.schools
    names: dict[int, str] = {}
    for start in range(0, len(ids), 1000):
        names.update({int(i): name for i, name in conn.execute(select(s.c.id, s.c.name).where(s.c.id.in_(ids[start:start + 1000])))})
    return names
