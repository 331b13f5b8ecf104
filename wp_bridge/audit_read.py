"""Reading the audit log: filters, keyset pages (newest first, no OFFSET) and batches for exports."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, select

from .tables import CoreGlobalTables, SiteTables

EXPORT_BATCH = 5000


@dataclass(frozen=True)
class LogFilter:
    school: int | None = None
    user: int | None = None
    action: str | None = None
    entity: str | None = None
    since: dt.datetime | None = None  # naive UTC, inclusive
    until: dt.datetime | None = None  # naive UTC, exclusive


def _query(t: SiteTables, core: CoreGlobalTables, f: LogFilter):
    log = t.audit_log
    actor, original = core.users.alias("actor"), core.users.alias("original")
    query = (
        select(log, actor.c.display_name.label("user_display_name"), original.c.user_login.label("switched_login"),
               original.c.display_name.label("switched_display_name"), t.schools.c.name.label("school_name"))
        .select_from(log.outerjoin(actor, actor.c.ID == log.c.user_id)
                     .outerjoin(original, original.c.ID == log.c.switched_from_user_id)
                     .outerjoin(t.schools, t.schools.c.id == log.c.school_id))
    )
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
    query = _query(t, core, f)
    if before_id is not None:
        query = query.where(log.c.id < before_id)
    rows = conn.execute(query.order_by(log.c.id.desc()).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (int(rows[-1].id) if more else None)


def stream(engine: Engine, t: SiteTables, core: CoreGlobalTables, f: LogFilter, *, before_id: int | None = None,
           batch: int = EXPORT_BATCH) -> Iterator:
    """Every matching row newest first, in keyset batches on a connection of its own: memory stays flat
    and the first rows are ready after the first batch."""
    log = t.audit_log
    query = _query(t, core, f).order_by(log.c.id.desc()).limit(batch)
    with engine.connect() as conn:
        while True:
            rows = conn.execute(query if before_id is None else query.where(log.c.id < before_id)).all()
            yield from rows
            if len(rows) < batch:
                return
            before_id = int(rows[-1].id)
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
