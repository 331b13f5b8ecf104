"""Job runs and scheduler heartbeats (network-level tables)."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import Connection, Engine, delete, select, update

from .db import utcnow
from .tables import NetworkTables

ACTIVE = ("queued", "running")
FINISHED = ("succeeded", "failed", "skipped")


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() + "Z" if value else None


def run_json(row) -> dict:
    return {
        "id": int(row.id),
        "job": row.job,
        "site": int(row.site_id) if row.site_id is not None else None,
        "trigger": row.trigger,
        "requested_by": int(row.requested_by) if row.requested_by is not None else None,
        "status": row.status,
        "dry_run": bool(row.dry_run),
        "options": json.loads(row.options) if row.options else {},
        "created_at": _iso(row.created_at),
        "started_at": _iso(row.started_at),
        "finished_at": _iso(row.finished_at),
        "progress": {"done": row.progress_done, "total": row.progress_total},
        "stats": json.loads(row.stats) if row.stats else None,
        "summary": row.summary,
        "error": row.error,
    }


def insert_run(conn: Connection, nt: NetworkTables, *, job: str, site_id: int | None, trigger: str,
               requested_by: int | None, status: str, dry_run: bool, options: dict,
               dedup_key: str | None = None) -> int:
    """A new run row. Raises IntegrityError when ``dedup_key`` was recorded before."""
    now = utcnow()
    return int(conn.execute(nt.job_runs.insert().values(
        job=job, site_id=site_id, trigger=trigger, requested_by=requested_by, status=status, dry_run=dry_run,
        options=json.dumps(options, sort_keys=True, default=str), created_at=now, dedup_key=dedup_key,
        started_at=now if status == "running" else None,
    )).inserted_primary_key[0])


def claim_run(conn: Connection, nt: NetworkTables, run_id: int) -> bool:
    """Move a queued run to running; False when someone else claimed it first."""
    with conn.begin():
        result = conn.execute(update(nt.job_runs).where(nt.job_runs.c.id == run_id, nt.job_runs.c.status == "queued")
                              .values(status="running", started_at=utcnow()))
    return result.rowcount == 1


def update_run(engine: Engine, nt: NetworkTables, run_id: int, **values) -> None:
    """Record progress or the outcome, in its own short transaction (outside the job's transaction)."""
    for key in ("stats", "options"):
        if key in values and not isinstance(values[key], str) and values[key] is not None:
            values[key] = json.dumps(values[key], sort_keys=True, default=str)
    with engine.begin() as conn:
        conn.execute(update(nt.job_runs).where(nt.job_runs.c.id == run_id).values(**values))


def get_run(conn: Connection, nt: NetworkTables, run_id: int):
    return conn.execute(select(nt.job_runs).where(nt.job_runs.c.id == run_id)).first()


def active_run(conn: Connection, nt: NetworkTables, job: str, site_id: int | None):
    r = nt.job_runs
    site_clause = r.c.site_id.is_(None) if site_id is None else r.c.site_id == site_id
    return conn.execute(select(r).where(r.c.job == job, site_clause, r.c.status.in_(ACTIVE))
                        .order_by(r.c.id).limit(1)).first()


def list_runs(conn: Connection, nt: NetworkTables, *, job: str | None = None, site_ids: list[int | None] | None = None,
              status: str | None = None, limit: int = 50) -> list:
    r = nt.job_runs
    query = select(r).order_by(r.c.id.desc()).limit(limit)
    if job:
        query = query.where(r.c.job == job)
    if status:
        query = query.where(r.c.status == status)
    if site_ids is not None:
        numbers = [s for s in site_ids if s is not None]
        clause = r.c.site_id.in_(numbers)
        query = query.where(clause | r.c.site_id.is_(None) if None in site_ids else clause)
    return conn.execute(query).all()


def last_finished_run(conn: Connection, nt: NetworkTables, job: str, site_id: int | None = None):
    """The newest real (not dry) run of ``job`` that finished, whatever its outcome; None when there is none."""
    r = nt.job_runs
    site_clause = r.c.site_id.is_(None) if site_id is None else r.c.site_id == site_id
    return conn.execute(select(r).where(r.c.job == job, site_clause, r.c.status.in_(FINISHED), r.c.dry_run.is_(False))
                        .order_by(r.c.id.desc()).limit(1)).first()


def queued_runs(conn: Connection, nt: NetworkTables) -> list:
    r = nt.job_runs
    return conn.execute(select(r).where(r.c.status == "queued").order_by(r.c.id)).all()


def running_runs(conn: Connection, nt: NetworkTables) -> list:
    r = nt.job_runs
    return conn.execute(select(r).where(r.c.status == "running").order_by(r.c.id)).all()


# --- scheduler heartbeats ----------------------------------------------------------------------


def heartbeat(engine: Engine, nt: NetworkTables, scheduler_id: str, started_at: dt.datetime, next_runs: dict) -> None:
    s = nt.schedulers
    now = utcnow()
    with engine.begin() as conn:
        changed = conn.execute(update(s).where(s.c.id == scheduler_id).values(
            heartbeat_at=now, next_runs=json.dumps(next_runs, sort_keys=True))).rowcount
        if not changed:
            conn.execute(s.insert().values(id=scheduler_id, started_at=started_at, heartbeat_at=now,
                                           next_runs=json.dumps(next_runs, sort_keys=True)))
        # Schedulers gone for a day are forgotten.
        conn.execute(delete(s).where(s.c.heartbeat_at < now - dt.timedelta(days=1)))


def remove_scheduler(engine: Engine, nt: NetworkTables, scheduler_id: str) -> None:
    with engine.begin() as conn:
        conn.execute(delete(nt.schedulers).where(nt.schedulers.c.id == scheduler_id))


def freshest_scheduler(conn: Connection, nt: NetworkTables):
    s = nt.schedulers
    return conn.execute(select(s).order_by(s.c.heartbeat_at.desc()).limit(1)).first()
