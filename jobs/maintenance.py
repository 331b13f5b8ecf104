"""Housekeeping jobs."""

from __future__ import annotations

import datetime as dt
import time

from sqlalchemy import delete, func, select

from wp_bridge.db import utcnow
from wp_bridge.job_runs import FINISHED
from wp_bridge.nonces import prune_nonces

from .registry import DAY, HOUR, JobResult, JobSpec, register

# Nonces must outlive the window in which their timestamp is accepted (±300 s); keep them 15 minutes.
NONCE_RETENTION_SECONDS = 900


def run_prune_nonces(ctx) -> JobResult:
    before = int(time.time()) - NONCE_RETENTION_SECONDS
    if ctx.dry_run:
        return JobResult("dry run: nonces older than 15 minutes would be deleted")
    with ctx.engine.begin() as conn:
        deleted = prune_nonces(conn, ctx.runtime.network_tables, before)
    return JobResult(f"{deleted} request nonces older than 15 minutes deleted", {"deleted": deleted})


register(JobSpec(
    name="prune-nonces", description="delete request nonces older than 15 minutes", run=run_prune_nonces,
    default_schedule="7 * * * *", misfire_grace_seconds=HOUR,
))


# Jobs that run every minute or hour: their finished runs are kept for a month. The history of the
# syncs, snapshots and rollovers is kept.
FREQUENT_JOBS = ("mail-outbox", "prune-nonces", "prune-job-runs")
RUN_RETENTION = dt.timedelta(days=30)


def run_prune_job_runs(ctx) -> JobResult:
    r = ctx.runtime.network_tables.job_runs
    condition = (r.c.job.in_(FREQUENT_JOBS)) & (r.c.status.in_(FINISHED)) & (r.c.created_at < utcnow() - RUN_RETENTION)
    if ctx.dry_run:
        with ctx.engine.connect() as conn:
            count = conn.execute(select(func.count()).select_from(r).where(condition)).scalar_one()
        return JobResult(f"dry run: {count} runs of frequent jobs older than 30 days would be deleted", {"deleted": 0})
    with ctx.engine.begin() as conn:
        deleted = conn.execute(delete(r).where(condition)).rowcount
    return JobResult(f"{deleted} runs of frequent jobs older than 30 days deleted", {"deleted": deleted})


register(JobSpec(
    name="prune-job-runs", description="delete finished runs of the minutely and hourly jobs after 30 days",
    run=run_prune_job_runs, default_schedule="17 3 * * *", misfire_grace_seconds=DAY,
))
