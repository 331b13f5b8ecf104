"""The ``free-places-snapshot`` (1 July) and ``rollover`` (1 August) jobs, one site per run."""

from __future__ import annotations

import datetime as dt

from rules.rollover import decide, review_reasons
from rules.school_year import current_school_year, next_school_year, parse_switch_day, switch_date
from wp_bridge.faults import fault_point
from wp_bridge.rollover import has_snapshot, roll_one_year, take_snapshot, year_counts
from wp_bridge.settings import load_settings, request_review
from wp_bridge.tables import site_tables

from .registry import DAY, SCHEDULED_FOR, JobOption, JobRefused, JobResult, JobSpec, register


def _site(ctx):
    with ctx.engine.connect() as conn:
        site = ctx.network.get_site(conn, ctx.site_id)
    if site is None or not site.enabled:
        raise JobRefused(f"site {ctx.site_id} is not a LOP site")
    return site


def _run_date(ctx) -> dt.date:
    given = ctx.options.get("date")
    return dt.date.fromisoformat(given) if given else ctx.runtime.today()


def _run_instant(ctx, on: dt.date) -> dt.datetime:
    """Now, or — with ``--date`` — that day at the current local time."""
    now = dt.datetime.now(ctx.config.tz)
    return now if on == now.date() else dt.datetime.combine(on, now.time(), ctx.config.tz)


def snapshot_day(ctx) -> tuple[dt.date, str]:
    """(date, kind) of the snapshot a run takes. A scheduled run is dated on its scheduled occurrence
    (``scheduled_for``, set by the scheduler), also when it runs late within its misfire grace: the seed's 1 July
    snapshot (another scheduled day is ``manual``). A run by hand carries the day it is taken; ``--date`` only in
    a dry run."""
    today = ctx.runtime.today()
    if ctx.trigger == "schedule":
        scheduled = ctx.options.get(SCHEDULED_FOR)
        on = dt.datetime.fromisoformat(scheduled).astimezone(ctx.config.tz).date() if scheduled else _run_date(ctx)
        kind = "1_july" if (on.month, on.day) == (7, 1) else "manual"  # an operator may have moved the schedule
    else:
        on, kind = _run_date(ctx), "manual"
    if on > today:
        raise JobRefused(f"a snapshot of {on} cannot be taken: that day is still to come")
    if ctx.trigger != "schedule" and on != today and not ctx.dry_run:
        raise JobRefused(f"een momentopname draagt de datum van de dag waarop ze genomen wordt ({today:%d/%m/%Y}): "
                         "--date kan enkel bij een proefrun (--dry-run)")
    return on, kind


def run_snapshot(ctx) -> JobResult:
    site = _site(ctx)
    on, kind = snapshot_day(ctx)
    tables, nt = site_tables(site.prefix), ctx.runtime.network_tables
    with ctx.engine.begin() as conn:
        if has_snapshot(conn, tables, on=on):
            return JobResult(f"a snapshot of {on} exists already: nothing replaced", {"rows": 0, "date": on.isoformat()})
        if ctx.dry_run:
            rows = sum(c[site.current_school_year] for c in year_counts(conn, tables, [site.current_school_year]).values())
            return JobResult(f"dry run: would store {rows} programmes of {site.current_school_year} as of {on}", {"rows": rows})
        rows = take_snapshot(conn, tables, nt, site.current_school_year, on, kind)
    return JobResult(f"snapshot of {on} stored: {rows} programmes of {site.current_school_year}",
                     {"rows": rows, "date": on.isoformat(), "school_year": site.current_school_year, "kind": kind})


def run_rollover(ctx) -> JobResult:
    site = _site(ctx)
    tables = site_tables(site.prefix)
    on = _run_date(ctx)
    switch_day = parse_switch_day(ctx.config.school_year_switch)
    target = current_school_year(on, switch_day)
    with ctx.engine.connect() as conn:
        automatic = load_settings(conn, site.prefix).automatic_rollover
    if ctx.trigger == "schedule" and not automatic:
        return JobResult(f"automatic rollover is off for this site: still {site.current_school_year}", {"rolled": []})
    due = switch_date(site.current_school_year, switch_day)
    if target != site.current_school_year and ctx.runtime.today() < due and not ctx.options.get("early") \
            and not ctx.dry_run:
        raise JobRefused(f"{site.current_school_year} ends on {due}: pass --early to roll over before that day")
    decision = decide(site.current_school_year, target, force=bool(ctx.options.get("force")))
    if decision.action == "refused":
        raise JobRefused(decision.reason)
    if decision.action == "up_to_date":
        return JobResult(decision.reason, {"rolled": []})
    if ctx.dry_run:
        return _dry_run(ctx, site, tables, decision.steps)
    rolled = []
    label = site.current_school_year
    for _step in decision.steps:  # one year, one transaction
        ctx.check_stop()
        with ctx.engine.begin() as conn:
            snapshot = 0
            if not has_snapshot(conn, tables, school_year=label):
                # dated the day it is really taken (``on`` may be a --date given to try the rollover)
                snapshot = take_snapshot(conn, tables, ctx.runtime.network_tables, label, ctx.runtime.today(), "rollover")
                fault_point("rollover.snapshot_taken")
            result = roll_one_year(conn, tables, site.id, site.prefix, label, ctx.actor())
            settings = load_settings(conn, site.prefix).rights
            request_review(conn, site.prefix, review_reasons(result["to"], settings.free_registration_start,
                                                             _run_instant(ctx, on), ctx.config.tz))
            fault_point("rollover.before_commit")
        rolled.append({**result, "snapshot_rows": snapshot})
        label = result["to"]
    last = rolled[-1]
    return JobResult(
        f"rolled over {rolled[0]['from']} → {last['to']}: {last['schools']} schools, {last['moved']} programmes now "
        f"current, copied to {last['next']} with free places, enrolled, extra info and dates cleared; "
        f"{sum(r['removed'] for r in rolled)} programmes of the old year removed",
        {"rolled": rolled})


def _dry_run(ctx, site, tables, steps) -> JobResult:
    old = site.current_school_year
    with ctx.engine.connect() as conn:
        counts = year_counts(conn, tables, [old, steps[0], next_school_year(steps[0])])
        snapshot_needed = not has_snapshot(conn, tables, school_year=old)
    plan = {school_id: {"removed": c[old], "moved": c[steps[0]], "cleared_copies": c[steps[0]],
                        "kept": ["programmes", "capacity", "indicator_pct", "suffix"],
                        "cleared": ["free_places", "enrolled", "extra_info", "dates"]}
            for school_id, c in sorted(counts.items())}
    moved = sum(p["moved"] for p in plan.values())
    return JobResult(
        f"dry run: would roll over {old} → {steps[-1]} ({len(steps)} year(s)): {len(plan)} schools, {moved} programmes "
        f"become current and are copied to {next_school_year(steps[0])} with numbers cleared"
        + ("; a snapshot of the outgoing year would be taken first" if snapshot_needed else ""),
        {"steps": list(steps), "per_school": plan, "snapshot_needed": snapshot_needed})


DATE_OPTION = JobOption("date", dt.date, "use this date instead of today (YYYY-MM-DD)")

register(JobSpec(
    name="free-places-snapshot", description="store the current year's free places as they are (1 July)",
    run=run_snapshot, default_schedule="5 0 1 7 *", misfire_grace_seconds=3 * DAY, site_scoped=True,
    expert_may_start=True, options=(DATE_OPTION,),
))
register(JobSpec(
    name="rollover", description="move the site to the next school year (1 August)",
    run=run_rollover, default_schedule="15 0 1 8 *", misfire_grace_seconds=3 * DAY, site_scoped=True,
    expert_may_start=True,
    options=(JobOption("force", bool, "roll a site that is more than one year behind, one year at a time"), DATE_OPTION,
             JobOption("early", bool, "with --date: roll over before the switch day (LOP_SCHOOL_YEAR_SWITCH)",
                       cli_only=True)),
))
