"""Housekeeping jobs."""

from __future__ import annotations

import datetime as dt
import os
import time

from sqlalchemy import delete, func, select

from wp_bridge.db import utcnow
from wp_bridge.errors import Conflict
from wp_bridge.job_runs import FINISHED
from wp_bridge.nonces import prune_nonces
from wp_bridge.site_admin import drop_site_tables, refuse_purge_of_existing_site, site_table_names
from wp_bridge.tables import site_tables

from .registry import DAY, HOUR, MANUAL, JobRefused, JobResult, JobSpec, register

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


def run_site_purge(ctx) -> JobResult:
    """The LOP tables of a site WordPress deleted: its whole log to a gzipped CSV first (as ``log prune``
    writes it), and only then the tables dropped."""
    from service.log_archive import write_log_archive  # the one archive writer, shared with `log prune`

    site_id, network = ctx.site_id, ctx.network
    with ctx.engine.connect() as conn:
        try:
            refuse_purge_of_existing_site(conn, network, site_id)
        except Conflict as exc:
            raise JobRefused(exc.detail) from None
        names = site_table_names(conn, network, site_id)
    if not names:
        raise JobRefused(f"site {site_id} has no LOP tables: nothing to purge")
    if ctx.dry_run:
        return JobResult(f"dry run: would archive the log of site {site_id} and drop {len(names)} tables",
                         {"tables": names})
    tables = site_tables(network.prefix(site_id))
    archived, path = 0, None
    if tables.audit_log.name in names:
        stamp = dt.datetime.now(ctx.config.tz).strftime("%Y%m%d-%H%M%S")
        path = os.path.join(ctx.config.archive_dir, f"logbestand-site{site_id}-verwijderd-{stamp}.csv.gz")
        archived, _max_id = write_log_archive(ctx.runtime, tables, path)
    dropped = drop_site_tables(ctx.engine, network, site_id)
    where = f" to {path}" if archived else ""
    return JobResult(f"site {site_id} purged: {archived} log rows archived{where}; {len(dropped)} tables dropped",
                     {"archived": archived, "archive": path if archived else None, "dropped": dropped})


register(JobSpec(
    name="site-purge", description="archive the log of a site WordPress deleted, then drop its LOP tables",
    run=run_site_purge, default_schedule=MANUAL, misfire_grace_seconds=HOUR, site_scoped=True, any_site_state=True,
))
