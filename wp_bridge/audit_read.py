"""Reading the audit log: filters, keyset pages (newest first, no OFFSET) and batches for exports."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, func, select

from .faults import fault_point
from .tables import CoreGlobalTables, SiteTables

EXPORT_BATCH = 5000
# The columns ``stream`` yields, in this order (plain tuples: cheap to unpack a million times). ``occurred_at``
# comes as UTC text "YYYY-MM-DD HH:MM:SS": an export writes text, and building a datetime per row only to
# format it again cost a fifth of a CSV export.
STREAM_COLUMNS = ("id", "occurred_at", "user_id", "user_login", "user_role", "switched_from_user_id", "source",
                  "school_id", "entity", "entity_id", "action", "field", "old_value", "new_value", "request_id",
                  "offering", "school_name")


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
               original.c.display_name.label("switched_display_name"),
               t.schools.c.name.label("current_school_name"))
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


class NameBook:
    """Display names for an export: schools loaded at once (a site has a few hundred), people looked up in bulk
    as the batches of a streamed export name them — never a join into every row, never a scan up front."""

    def __init__(self, engine: Engine, t: SiteTables, core: CoreGlobalTables):
        self.users = core.users
        self.people: dict[int, tuple[str, str]] = {}
        with engine.connect() as conn:
            self.schools = {int(i): name for i, name in conn.execute(select(t.schools.c.id, t.schools.c.name))}

    def learn(self, rows: list, conn: Connection) -> None:
        """Load the people of a batch of stream rows (user and switched-from columns) not seen yet, on the
        stream's own connection (SQLite lets one connection at a time hold the database)."""
        wanted = {r[2] for r in rows} | {r[5] for r in rows if r[5] is not None}
        missing = sorted(wanted - self.people.keys())
        if not missing:
            return
        users = self.users
        for start in range(0, len(missing), 1000):
            for i, login, name in conn.execute(select(users.c.ID, users.c.user_login, users.c.display_name)
                                               .where(users.c.ID.in_(missing[start:start + 1000]))):
                self.people[int(i)] = (login, name)
        for user_id in missing:
            self.people.setdefault(user_id, ("", ""))


def stream(engine: Engine, t: SiteTables, core: CoreGlobalTables, f: LogFilter, *, before_id: int | None = None,
           batch: int = EXPORT_BATCH, names: NameBook | None = None) -> Iterator:
    """Every matching log row (STREAM_COLUMNS, without names) newest first, in keyset batches on a connection
    of its own: memory stays flat and the first rows are ready after the first batch. ``names`` learns the
    people of each batch before its rows are yielded."""
    log = t.audit_log
    columns = [_utc_text(log.c.occurred_at, engine) if name == "occurred_at" else log.c[name] for name in STREAM_COLUMNS]
    query = _filtered(select(*columns), log, f).order_by(log.c.id.desc()).limit(batch)
    with engine.connect() as conn:
        while True:
            result = conn.execute(query if before_id is None else query.where(log.c.id < before_id))
            # The driver's plain tuples: SQLAlchemy's Row objects cost more than the rest of an export row.
            rows = result.cursor.fetchall()
            result.close()
            if names is not None:
                names.learn(rows, conn)
            yield from rows
            if len(rows) < batch:
                return
            before_id = int(rows[-1][0])
            conn.commit()  # end the read transaction between batches


def _utc_text(column, engine: Engine):
    """A DATETIME column as "YYYY-MM-DD HH:MM:SS" text (SQLite stores that text with microseconds)."""
    if engine.dialect.name == "sqlite":
        return func.substr(column, 1, 19)
    return func.date_format(column, "%Y-%m-%d %H:%i:%s")


def delete_archived(engine: Engine, t: SiteTables, until: dt.datetime, max_id: int, batch: int = EXPORT_BATCH) -> int:
    """Delete the rows an archive holds (before ``until`` and up to ``max_id``): in statements of ``batch`` rows,
    all in one transaction, so that a crash deletes all of them or none, never a part (a kill between commits of
    batches left a log half pruned). The rows go by primary key, which locks only them: the log takes new rows
    meanwhile. The only place where log rows are ever deleted: ``lop-sidecar log prune``, after the archive
    file is safely written."""
    log = t.audit_log
    deleted, after = 0, 0
    with engine.begin() as conn:
        while True:
            ids = [int(i) for (i,) in conn.execute(
                select(log.c.id).where(log.c.id > after, log.c.id <= max_id, log.c.occurred_at < until)
                .order_by(log.c.id).limit(batch))]
            if not ids:
                break
            deleted += conn.execute(log.delete().where(log.c.id.in_(ids))).rowcount
            after = ids[-1]
        fault_point("log_prune.before_commit")
    return deleted
