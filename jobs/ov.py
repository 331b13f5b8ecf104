"""The ``ov-sync`` job: fetch Onderwijs Vlaanderen's offering and catalogue, store the snapshot, enrich the
administrative-group catalogue, and compare every LOP site's schools with it."""

from __future__ import annotations

from rules.ov import OvRecordError, ov_schooljaar, parse_catalogue_entry, parse_offering
from wp_bridge.faults import fault_point
from wp_bridge.ov import (
    catalogue_info,
    enrich_catalogue,
    index_from,
    load_index,
    replace_snapshot,
    site_comparison,
    snapshot_count,
)
from wp_bridge.tables import site_tables

from .feed_http import Deadline
from .ov_client import CATALOGUE_PATH, OFFERING_PATH, OvClient, OvFetchError
from .registry import JobOption, JobRefused, JobResult, JobSpec, register

SHRINK_GUARD = 0.85  # more than 15% fewer records than the stored snapshot: refused without --force


def _parse(records: list, parse, path: str) -> list:
    try:
        return [parse(record, f"{path} record {n + 1}") for n, record in enumerate(records)]
    except OvRecordError as exc:
        raise JobRefused(f"unexpected record: {exc}") from None


def run_ov_sync(ctx) -> JobResult:
    if not ctx.config.ov_api_url:
        raise JobRefused("LOP_OV_API_URL is not set")
    # one deadline for the whole fetch (both listings); storing and comparing come after it
    with Deadline(ctx.config.ov_deadline_seconds, "LOP_OV_DEADLINE_SECONDS") as deadline:
        client = OvClient(ctx.config.ov_api_url, ctx.config.ov_api_key, deadline=deadline,
                          read_timeout=ctx.config.ov_read_timeout_seconds)
        try:
            raw_offerings, pages = client.fetch_all(OFFERING_PATH, progress=lambda n: ctx.progress(n))
            raw_catalogue, catalogue_pages = client.fetch_all(CATALOGUE_PATH)
        except OvFetchError as exc:
            raise JobRefused(f"the feed was not stored: {exc}") from None
    offerings = _parse(raw_offerings, parse_offering, "offering")
    entries = _parse(raw_catalogue, parse_catalogue_entry, "catalogue")
    ctx.check_stop()
    nt = ctx.runtime.network_tables
    names = {o.code: o.description for o in offerings}
    with ctx.engine.begin() as conn:
        stored = snapshot_count(conn, nt)
        if stored and len(offerings) < SHRINK_GUARD * stored and not ctx.options.get("force"):
            raise JobRefused(f"the feed has {len(offerings)} records, more than 15% fewer than the {stored} stored "
                             "(a partial feed?); the snapshot is kept. Use --force if this is right")
        catalogue_counts = enrich_catalogue(conn, nt, entries, names, write=not ctx.dry_run)
        if not ctx.dry_run:
            replace_snapshot(conn, nt, offerings)
        fault_point("ov.before_commit")
    per_site = compare_sites(ctx, offerings)
    summary = f"{len(offerings)} records in {pages} pages"
    for site_id, counts in per_site.items():
        if not counts["ov_data"]:
            summary += f"; site {site_id}: OV lists nothing for {counts['school_year']}, not compared"
            continue
        summary += (f"; site {site_id}: {counts['schools']} schools compared, {counts['only_ov']} only OV, "
                    f"{counts['only_lop']} only LOP")
    summary += (f"; catalogue: {catalogue_counts['in_feed']} in feed: {catalogue_counts['added']} added, "
                f"{catalogue_counts['updated']} updated, {catalogue_counts['unchanged']} unchanged")
    return JobResult(summary, {"records": len(offerings), "pages": pages, "catalogue_pages": catalogue_pages,
                               "catalogue": catalogue_counts, "sites": per_site, "dry_run": ctx.dry_run})


def compare_sites(ctx, offerings) -> dict:
    """Per enabled site, for its current school year: the schools compared and the totals."""
    result = {}
    nt = ctx.runtime.network_tables
    with ctx.engine.connect() as conn:
        catalogue = catalogue_info(conn, nt)
        for site in ctx.network.list_sites(conn):
            if not site.enabled or not site.live or not site.current_school_year:
                continue
            schooljaar = ov_schooljaar(site.current_school_year)
            index, listed, names = (index_from(offerings, schooljaar) if ctx.dry_run
                                    else load_index(conn, nt, schooljaar))
            if not listed:  # nothing for that school year: every site code would look red
                result[site.id] = {"school_year": site.current_school_year, "ov_data": False, "schools": 0,
                                   "only_ov": 0, "only_lop": 0}
                continue
            schools = site_comparison(conn, site_tables(site.prefix), catalogue, index, listed, names,
                                      site.current_school_year)
            compared = [s for s in schools if s["covered"]]
            result[site.id] = {"school_year": site.current_school_year, "ov_data": True, "schools": len(compared),
                               "only_ov": sum(s["counts"]["only_ov"] for s in compared),
                               "only_lop": sum(s["counts"]["only_lop"] for s in compared)}
    return result


register(JobSpec(
    name="ov-sync", description="fetch Onderwijs Vlaanderen's offering and compare it with every LOP site",
    run=run_ov_sync, default_schedule="30 2 * * *", misfire_grace_seconds=6 * 3600,
    expert_may_see=True,  # the Onderwijs Vlaanderen screen says when the next nightly sync runs
    options=(JobOption("force", bool, "store a feed with more than 15% fewer records than the stored one"),),
))

