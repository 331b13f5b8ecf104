"""Reading the audit log: filters, keyset pages (newest first, no OFFSET) and batches for exports."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, select

from .tables import CoreGlobalTables, SiteTables

EXPORT_BATCH = 5000
# The columns ``stream`` yields, in this order (plain tuples: cheap to unpack a million times).
STREAM_COLUMNS = ("id", "occurred_at", "user_id", "user_login", "user_role", "switched_from_user_id", "source",
                  "school_id", "entity", "entity_id", "action", "field", "old_value", "new_value", "request_id")


@dataclass(frozen=True)
class LogFilter:
    school: int | None = None
    user: int | None = None
    action: str | None = None
    entity: str | None = None
    since: dt.datetime | None = None  # naive UTC, inclusive
    until: dt.datetime | None = None  # naive UTC, exclusive


def _with_names(t: SiteTables, core: CoreGlobalTables):
    log = t.audit_log
    actor, original = core.users.alias("actor"), core.users.alias("original")
    return (
        select(log, actor.c.display_name.label("user_display_name"), original.c.user_login.label("switched_login"),
               original.c.display_name.label("switched_display_name"), t.schools.c.name.label("school_name"))
        .select_from(log.outerjoin(actor, actor.c.ID == log.c.user_id)
                     .outerjoin(original, original.c.ID == log.c.switched_from_user_id)
                     .outerjoin(t.schools, t.schools.c.id == log.c.school_id))
    )


def _filtered(query, log, f: LogFilter):
    if f.school is not None:
        query = query.where(log.c.school_id == f.school)
    if f.user is not None:
        query = query.where(log.c.user_id == f.user)
    if f.action:
        query = query.where(log.c.action == f.action)
    if f.entity:
        query = query.where(log.c.entity == f.entity)
    if f.since:
        query = query.where(log.c.occurred_at >= f.since)
    if f.until:
        query = query.where(log.c.occurred_at < f.until)
    return query


def page(conn: Connection, t: SiteTables, core: CoreGlobalTables, f: LogFilter, *, before_id: int | None,
         limit: int) -> tuple[list, int | None]:
    """One page newest first, and the id to continue below (None on the last page)."""
    log = t.audit_log
    query = _filtered(_with_names(t, core), log, f)
    if before_id is not None:
        query = query.where(log.c.id < before_id)
    rows = conn.execute(query.order_by(log.c.id.desc()).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (int(rows[-1].id) if more else None)


def names(engine: Engine, t: SiteTables, core: CoreGlobalTables) -> tuple[dict[int, tuple[str, str]], dict[int, str]]:
    """(user id -> (login, display name), school id -> name) for the people and schools a site's log names:
    an export looks names up here instead of joining them into a million rows."""
    log, users = t.audit_log, core.users
    with engine.connect() as conn:
        ids = select(log.c.user_id).distinct().union(select(log.c.switched_from_user_id).distinct()).subquery()
        people = {int(i): (login, name) for i, login, name in conn.execute(
            select(users.c.ID, users.c.user_login, users.c.display_name).where(users.c.ID.in_(select(ids.c[0]))))}
        schools = {int(i): name for i, name in conn.execute(select(t.schools.c.id, t.schools.c.name))}
    return people, schools


def stream(engine: Engine, t: SiteTables, core: CoreGlobalTables, f: LogFilter, *, before_id: int | None = None,
           batch: int = EXPORT_BATCH) -> Iterator:
    """Every matching log row (without names, see ``names``) newest first, in keyset batches on a connection
    of its own: memory stays flat and the first rows are ready after the first batch."""
    log = t.audit_log
    query = _filtered(select(*[log.c[name] for name in STREAM_COLUMNS]), log, f).order_by(log.c.id.desc()).limit(batch)
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as conn:
        while True:
            result = conn.execute(query if before_id is None else query.where(log.c.id < before_id))
            # The driver's plain tuples: SQLAlchemy's Row objects cost more than the rest of an export row.
            # (SQLite's driver returns DATETIME as text: parse that one column there.)
            rows = result.cursor.fetchall()
            result.close()
            if sqlite:
                rows = [(r[0], dt.datetime.fromisoformat(r[1]), *r[2:]) for r in rows]
            yield from rows
            if len(rows) < batch:
                return
            before_id = int(rows[-1][0])
            conn.commit()  # end the read transaction between batches


def delete_archived(engine: Engine, t: SiteTables, until: dt.datetime, max_id: int, batch: int = EXPORT_BATCH) -> int:
    """Delete the rows an archive holds (before ``until`` and up to ``max_id``), in batches. The only place
    where log rows are ever deleted: ``lop-sidecar log prune``, after the archive file is safely written."""
    log = t.audit_log
    deleted = 0
    while True:
        with engine.begin() as conn:
            ids = [int(i) for (i,) in conn.execute(select(log.c.id).where(log.c.occurred_at < until, log.c.id <= max_id)
                                                   .order_by(log.c.id).limit(batch))]
            if not ids:
                return deleted
            deleted += conn.execute(log.delete().where(log.c.id.in_(ids))).rowcount
