"""``lop-sidecar scheduler``: APScheduler 3 in its own process.

Jobs are defined in code (jobs/registry.py) with stable ids and cron schedules (``LOP_SCHEDULE_<JOB>``,
Europe/Brussels). Each scheduled occurrence gets a dedup key, so that two schedulers — or one that was
down and catches up at start — run it once. Runs queued through the API are picked up every
``POLL_SECONDS``. A heartbeat row tells the API that a scheduler is alive and when jobs run next.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

from apscheduler.executors.pool import ThreadPoolExecutor as APSThreadPool
from apscheduler.schedulers import SchedulerNotRunningError
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from wp_bridge.db import utcnow
from wp_bridge.errors import describe_database_error, is_transient
from wp_bridge.job_runs import (
    heartbeat,
    queued_runs,
    remove_scheduler,
    running_runs,
    update_run,
)

from .registry import MANUAL, SCHEDULED_FOR, JobSpec, all_jobs
from .runner import create_run, execute_run, mark_interrupted

log = logging.getLogger("lop_sidecar.scheduler")

POLL_SECONDS = 2
HEARTBEAT_SECONDS = 5
SHUTDOWN_TIMEOUT_SECONDS = 60


class _GaveUp(Exception):
    """The database did not come back within an occurrence's grace time."""


class ScheduleError(ValueError):
    def __init__(self, variable: str, message: str):
        super().__init__(f"{variable}: {message}")
        self.variable = variable


def load_schedules(env: Mapping[str, str], tz) -> dict[str, CronTrigger]:
    """The cron trigger of every job: ``LOP_SCHEDULE_<JOB>`` or the job's default."""
    triggers = {}
    for name, spec in all_jobs().items():
        expression = spec.schedule(env)
        if expression == MANUAL:
            continue
        try:
            triggers[name] = CronTrigger.from_crontab(expression, timezone=tz)
        except ValueError as exc:
            raise ScheduleError(spec.schedule_variable, f"not a cron expression ({exc}): {expression!r}") from None
    return triggers


def previous_fire_time(trigger: CronTrigger, now: dt.datetime, grace_seconds: int) -> dt.datetime | None:
    """The latest occurrence at or before ``now`` that is at most ``grace_seconds`` old."""
    cursor, latest = now - dt.timedelta(seconds=grace_seconds), None
    while True:
        upcoming = trigger.get_next_fire_time(None, cursor)
        if upcoming is None or upcoming > now:
            return latest
        latest, cursor = upcoming, upcoming + dt.timedelta(seconds=1)


class SchedulerProcess:
    def __init__(self, runtime, triggers: dict[str, CronTrigger], *, poll_seconds: float = POLL_SECONDS,
                 heartbeat_seconds: float = HEARTBEAT_SECONDS, shutdown_timeout: float = SHUTDOWN_TIMEOUT_SECONDS):
        self.runtime = runtime
        self.triggers = triggers
        self.poll_seconds = poll_seconds
        self.heartbeat_seconds = heartbeat_seconds
        self.shutdown_timeout = shutdown_timeout
        self.id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.started_at = utcnow()
        self.stop = threading.Event()
        self.inflight: set[int] = set()
        self._inflight_lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="lop-run")
        self.scheduler = BlockingScheduler(
            timezone=runtime.config.tz,
            # room for every job's occurrence waiting for the database (_retrying) beside the poll and heartbeat
            executors={"default": APSThreadPool(16)},
            job_defaults={"coalesce": True, "max_instances": 1},
        )

    # --- start and stop ---

    def wait_for_database(self) -> bool:
        """Retry with backoff until the database answers (or we are told to stop)."""
        delay = 1.0
        while not self.stop.is_set():
            try:
                with self.runtime.engine.connect() as conn:
                    conn.execute(text("SELECT 1"))
                return True
            except SQLAlchemyError as exc:
                log.warning("database not reachable (%s); retrying in %.0f s",
                            type(getattr(exc, "orig", None) or exc).__name__, delay)
                self.stop.wait(delay)
                delay = min(delay * 2, 60)
        return False

    def run(self) -> None:
        """Block until SIGTERM/SIGINT; then stop cleanly within the shutdown timeout."""
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        if not self.wait_for_database():
            return
        now = dt.datetime.now(self.runtime.config.tz)
        specs = all_jobs()
        for name, trigger in self.triggers.items():
            spec = specs[name]
            # Catch up on an occurrence missed while no scheduler ran (the dedup key stops a second run).
            missed = previous_fire_time(trigger, now, spec.misfire_grace_seconds)
            self.scheduler.add_job(self.fire, trigger, args=[name], id=name, name=name,
                                   misfire_grace_time=spec.misfire_grace_seconds,
                                   **({"next_run_time": missed} if missed else {}))
        self.scheduler.add_job(self.poll_queue, "interval", seconds=self.poll_seconds, id="_queue",
                               misfire_grace_time=None, next_run_time=now)
        self.scheduler.add_job(self.beat, "interval", seconds=self.heartbeat_seconds, id="_heartbeat",
                               misfire_grace_time=None, next_run_time=now)
        log.info("scheduler %s started with jobs: %s", self.id, ", ".join(sorted(self.triggers)))
        self.scheduler.start()  # returns after shutdown
        self._drain()

    def _on_signal(self, signum, _frame) -> None:
        # Only the flag: the handler runs in the main thread, which may be holding the scheduler's or its
        # executor's locks right then (shutting down from here deadlocked). poll_queue shuts the scheduler
        # down within POLL_SECONDS; a run in flight sees the flag at its next progress point.
        log.info("signal %s: stopping (no new runs; running ones get %s s)", signum, self.shutdown_timeout)
        self.stop.set()

    def _drain(self) -> None:
        deadline = time.monotonic() + self.shutdown_timeout
        while self.inflight and time.monotonic() < deadline:
            time.sleep(0.1)
        with self._inflight_lock:
            left = sorted(self.inflight)
        for run_id in left:  # did not stop in time: record it; its lock goes with this process
            try:
                update_run(self.runtime.engine, self.runtime.network_tables, run_id, status="failed",
                           error="interrupted: the scheduler stopped before the run finished", finished_at=utcnow())
            except SQLAlchemyError as exc:  # the database is away: the next scheduler marks it interrupted
                log.warning("run %s not marked interrupted (%s)", run_id, describe_database_error(exc))
        self._pool.shutdown(wait=False, cancel_futures=True)
        try:
            remove_scheduler(self.runtime.engine, self.runtime.network_tables, self.id)
        except SQLAlchemyError:
            pass
        log.info("scheduler %s stopped", self.id)
        if left:
            os._exit(1)  # threads still busy: leave without waiting for them

    # --- the work ---

    def _execute(self, run_id: int) -> None:
        with self._inflight_lock:
            if run_id in self.inflight:
                return
            self.inflight.add(run_id)
        try:
            execute_run(self.runtime, run_id, self.stop)
        except Exception:  # noqa: BLE001 — the runner records outcomes; this guards the scheduler itself
            log.exception("run %s could not be executed", run_id)
        finally:
            with self._inflight_lock:
                self.inflight.discard(run_id)

    def fire(self, name: str) -> None:
        """A scheduled occurrence: one run per site for site-scoped jobs, else one run."""
        if self.stop.is_set():
            return
        spec: JobSpec = all_jobs()[name]
        occurrence = previous_fire_time(self.triggers[name], dt.datetime.now(self.runtime.config.tz),
                                        spec.misfire_grace_seconds + 60) or dt.datetime.now(self.runtime.config.tz)
        stamp = occurrence.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%MZ")
        # An occurrence that falls while the database is restarting is not lost: it waits for the database
        # within its grace time (the dedup key keeps it to one run).
        deadline = occurrence + dt.timedelta(seconds=spec.misfire_grace_seconds)
        what = f"{name} (occurrence {stamp})"
        try:
            for site_id in self._retrying(what, deadline, lambda: self._sites_for(spec)):
                run_id = self._retrying(what, deadline, lambda site_id=site_id: create_run(
                    self.runtime, name, site_id=site_id, trigger="schedule", options={SCHEDULED_FOR: occurrence.isoformat()},
                    dedup_key=f"{name}:{'network' if site_id is None else site_id}:{stamp}"))
                if run_id is not None:
                    self._execute(run_id)
        except _GaveUp as exc:
            log.error("%s missed: the database did not answer within its grace time (%s)", what, exc)

    def _retrying(self, what: str, deadline: dt.datetime, call):
        """``call()``, retried with backoff (1 s doubling to 30 s) while the database does not answer."""
        delay = 1.0
        while True:
            try:
                return call()
            except SQLAlchemyError as exc:
                if not is_transient(exc):
                    raise
                reason = describe_database_error(exc)
                if self.stop.is_set() or dt.datetime.now(deadline.tzinfo) + dt.timedelta(seconds=delay) > deadline:
                    raise _GaveUp(reason) from None
                log.warning("%s: the database does not answer (%s); retrying in %.0f s", what, reason, delay)
                self.stop.wait(delay)
                delay = min(delay * 2, 30)

    def _sites_for(self, spec: JobSpec) -> list[int | None]:
        if not spec.site_scoped:
            return [None]
        with self.runtime.engine.connect() as conn:
            return [site.id for site in self.runtime.network.list_sites(conn) if site.enabled]

    def poll_queue(self) -> None:
        """Start runs queued through the API; mark runs of crashed processes as interrupted."""
        if self.stop.is_set():  # a signal came (_on_signal)
            with contextlib.suppress(SchedulerNotRunningError):
                self.scheduler.shutdown(wait=False)
            return
        try:
            with self.runtime.engine.connect() as conn:
                queued = [row for row in queued_runs(conn, self.runtime.network_tables) if row.trigger == "api"]
                running = running_runs(conn, self.runtime.network_tables)
            mine = self.inflight
            for run_id in mark_interrupted(self.runtime, [r for r in running if r.id not in mine]):
                log.warning("run %s was left running by a process that is gone: marked interrupted", run_id)
            for row in queued:
                if row.id not in mine:
                    self._pool.submit(self._execute, int(row.id))
        except SQLAlchemyError as exc:
            log.warning("queue poll failed (%s)", type(getattr(exc, "orig", None) or exc).__name__)

    def next_runs(self) -> dict[str, str | None]:
        result = {}
        for job in self.scheduler.get_jobs():
            if not job.id.startswith("_"):
                when = job.next_run_time
                result[job.id] = when.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z") if when else None
        return result

    def beat(self) -> None:
        try:
            heartbeat(self.runtime.engine, self.runtime.network_tables, self.id, self.started_at, self.next_runs())
        except SQLAlchemyError as exc:
            log.warning("heartbeat failed (%s)", type(getattr(exc, "orig", None) or exc).__name__)
