"""The one runner every job run goes through: scheduled, queued from the API, or from the command line.

A run is a row in ``{prefix}lop_job_runs``. The runner takes the lock of the job and site (a MySQL
``GET_LOCK`` on a dedicated connection, a file lock on SQLite) for the whole run, moves the row to
``running``, runs the job, and records its outcome — whatever the job raises. A run whose lock is
taken is recorded as ``skipped`` (reason ``locked``).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from dataclasses import dataclass, field

import requests
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from wp_bridge.audit import Actor
from wp_bridge.db import is_mysql, utcnow
from wp_bridge.errors import describe_database_error, is_transient
from wp_bridge.job_runs import claim_run, get_run, insert_run, run_json, update_run
from wp_bridge.locks import named_lock
from wp_bridge.sites import LIVE

from .registry import JobRefused, JobResult, JobSpec, get_job

log = logging.getLogger("lop_sidecar.jobs")

PROGRESS_INTERVAL_SECONDS = 1.0


class JobCancelled(Exception):
    """The scheduler is stopping: the job gives up (its transaction rolls back)."""


def lock_name(job: str, site_id: int | None) -> str:
    return f"job:{job}:{'network' if site_id is None else site_id}"


@dataclass
class JobContext:
    runtime: object  # service.runtime.Runtime (engine, network, config)
    spec: JobSpec
    run_id: int
    site_id: int | None
    dry_run: bool
    options: dict
    trigger: str
    requested_by: int | None
    stop: threading.Event = field(default_factory=threading.Event)
    last_progress: tuple[int, int | None] | None = None
    _last_progress: float = 0.0

    @property
    def engine(self):
        return self.runtime.engine

    @property
    def network(self):
        return self.runtime.network

    @property
    def config(self):
        return self.runtime.config

    def actor(self) -> Actor:
        """Who the audit log names for this run's changes: the requester when there is one."""
        return Actor(user_id=self.requested_by or 0, user_login="", user_role="system", source=self.spec.name)

    def check_stop(self) -> None:
        if self.stop.is_set():
            raise JobCancelled()

    def progress(self, done: int, total: int | None = None, *, force: bool = False) -> None:
        """Record progress (at most once a second) and give up if the scheduler is stopping. SQLite has one
        writer at a time, and a job is often inside its own write transaction: there progress is only
        recorded with the outcome."""
        self.check_stop()
        now = time.monotonic()
        if not is_mysql(self.engine):
            self.last_progress = (done, total)
            return
        if force or now - self._last_progress >= PROGRESS_INTERVAL_SECONDS:
            self._last_progress = now
            values = {"progress_done": done}
            if total is not None:
                values["progress_total"] = total
            update_run(self.engine, self.runtime.network_tables, self.run_id, **values)


def error_summary(exc: BaseException) -> str:
    """What a failed run records: never SQL, parameters, headers or secrets."""
    if isinstance(exc, JobRefused):
        return str(exc)
    if isinstance(exc, JobCancelled):
        return "interrupted: the scheduler was stopped"
    if isinstance(exc, SQLAlchemyError):
        return f"database error: {describe_database_error(exc)}"
    if isinstance(exc, requests.RequestException):
        status = getattr(getattr(exc, "response", None), "status_code", None)
        return f"{type(exc).__name__}" + (f" (HTTP {status})" if status else "")
    return f"{type(exc).__name__}: {str(exc)[:300]}"


def create_run(runtime, job: str, *, site_id: int | None, trigger: str, requested_by: int | None = None,
               dry_run: bool = False, options: dict | None = None, dedup_key: str | None = None) -> int | None:
    """Record a queued run; None when ``dedup_key`` shows another scheduler already has this occurrence."""
    try:
        with runtime.engine.begin() as conn:
            return insert_run(conn, runtime.network_tables, job=job, site_id=site_id, trigger=trigger,
                              requested_by=requested_by, status="queued", dry_run=dry_run, options=options or {},
                              dedup_key=dedup_key)
    except IntegrityError:
        return None


def execute_run(runtime, run_id: int, stop: threading.Event | None = None) -> dict:
    """Run a queued run to its end and return its final row (as JSON). The run is claimed first (only one
    process can move it from queued to running), then the job's lock is taken for the whole run."""
    nt = runtime.network_tables
    with runtime.engine.connect() as conn:
        if not claim_run(conn, nt, run_id):
            return _final(runtime, run_id)  # claimed by another process
        row = get_run(conn, nt, run_id)
    spec = get_job(row.job)
    site_id = int(row.site_id) if row.site_id is not None else None
    with named_lock(runtime.engine, lock_name(row.job, site_id)) as acquired:
        if not acquired:
            update_run(runtime.engine, nt, run_id, status="skipped", error="locked", finished_at=utcnow())
            log.info("run %s of %s skipped: another run holds the lock", run_id, row.job)
            return _final(runtime, run_id)
        inactive = _inactive(runtime, spec, site_id)
        if inactive:
            update_run(runtime.engine, nt, run_id, status="skipped", error="site_inactive",
                       summary=f"site {site_id} skipped: {inactive}", finished_at=utcnow())
            log.info("run %s of %s: site %s skipped: %s", run_id, row.job, site_id, inactive)
            return _final(runtime, run_id)
        ctx = JobContext(runtime, spec, run_id, site_id, bool(row.dry_run), run_json(row)["options"], row.trigger,
                         int(row.requested_by) if row.requested_by is not None else None, stop or threading.Event())
        log.info("run %s: %s%s started (%s)", run_id, row.job, f" site {site_id}" if site_id else "", row.trigger)
        unrecorded = None  # the outcome, when the database did not come back to take it
        try:
            if spec is None:
                raise JobRefused(f"unknown job {row.job!r}")
            result = spec.run(ctx)
            if not isinstance(result, JobResult):
                raise TypeError(f"job {spec.name} returned {type(result).__name__}, not JobResult")
        except BaseException as exc:  # noqa: BLE001 — every outcome is recorded
            outcome = {"status": "failed", "error": error_summary(exc), "finished_at": utcnow()}
            log.warning("run %s of %s failed: %s", run_id, row.job, outcome["error"])
            if not _record_outcome(runtime, run_id, outcome, ctx.stop):
                unrecorded = outcome
            if not isinstance(exc, Exception):
                raise  # KeyboardInterrupt / SystemExit: recorded, then let through
        else:
            outcome = {"status": "succeeded", "stats": result.stats, "summary": result.summary, "finished_at": utcnow()}
            if ctx.last_progress:
                outcome.update(progress_done=ctx.last_progress[0], progress_total=ctx.last_progress[1])
            log.info("run %s of %s succeeded: %s", run_id, row.job, result.summary)
            if not _record_outcome(runtime, run_id, outcome, ctx.stop):
                unrecorded = outcome
    if unrecorded is not None:
        return {**run_json(row), "status": unrecorded["status"], "error": unrecorded.get("error"),
                "summary": unrecorded.get("summary"), "stats": unrecorded.get("stats")}
    return _final(runtime, run_id)


# How long a run waits for the database to take its outcome: a job that failed because the database went
# away can only record that once it is back.
OUTCOME_RETRY_SECONDS = 300


def _record_outcome(runtime, run_id: int, values: dict, stop: threading.Event) -> bool:
    """Record a run's outcome, retrying with backoff while the database does not answer. False when it did
    not come back in time, or the scheduler is stopping: the row stays ``running`` and a scheduler marks it
    interrupted later."""
    delay, deadline = 0.5, time.monotonic() + OUTCOME_RETRY_SECONDS
    while True:
        try:
            update_run(runtime.engine, runtime.network_tables, run_id, **values)
            return True
        except SQLAlchemyError as exc:
            if not is_transient(exc):
                raise
            reason = describe_database_error(exc)
            if stop.is_set() or time.monotonic() + delay > deadline:
                log.error("run %s: outcome %s not recorded, the database does not answer (%s); a scheduler marks "
                          "the run interrupted once it is back", run_id, values["status"], reason)
                return False
            log.warning("run %s: the database does not answer (%s); recording its outcome again in %.1f s",
                        run_id, reason, delay)
            stop.wait(delay)
            delay = min(delay * 2, 8)


def _inactive(runtime, spec, site_id: int | None) -> str | None:
    """Why a site-scoped job must not touch its site: archived, spam or deleted in WordPress (None: live)."""
    if spec is None or not spec.site_scoped or spec.any_site_state or site_id is None:
        return None
    with runtime.engine.connect() as conn:
        status = runtime.network.site_status(conn, site_id)
    return status if status not in (None, LIVE) else None


def _final(runtime, run_id: int) -> dict:
    with runtime.engine.connect() as conn:
        return run_json(get_run(conn, runtime.network_tables, run_id))


def run_now(runtime, job: str, *, site_id: int | None, trigger: str, requested_by: int | None = None,
            dry_run: bool = False, options: dict | None = None) -> dict:
    """Create and execute a run in this process (the command line)."""
    run_id = create_run(runtime, job, site_id=site_id, trigger=trigger, requested_by=requested_by,
                        dry_run=dry_run, options=options)
    return execute_run(runtime, run_id)


def mark_interrupted(runtime, rows, min_age_seconds: float = 30) -> list[int]:
    """Runs left ``running`` whose lock is free belong to a process that died: mark them failed. A run
    is only judged once it has been running a while (it is claimed a moment before its lock is taken)."""
    marked = []
    cutoff = utcnow() - dt.timedelta(seconds=min_age_seconds)
    for row in rows:
        if row.started_at is None or row.started_at > cutoff:
            continue
        site_id = int(row.site_id) if row.site_id is not None else None
        with named_lock(runtime.engine, lock_name(row.job, site_id)) as free:
            if free:
                with runtime.engine.begin() as conn:
                    r = runtime.network_tables.job_runs
                    changed = conn.execute(r.update().where(r.c.id == row.id, r.c.status == "running").values(
                        status="failed", error="interrupted", finished_at=utcnow())).rowcount
                if changed:
                    marked.append(int(row.id))
    return marked
