from __future__ import annotations

import datetime as dt
import json
import os

from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from jobs.registry import all_jobs, get_job, parse_options
from rules.ids import is_id
from rules.roles import Role
from rules.school_year import parse_switch_day, switch_date
from wp_bridge.db import utcnow
from wp_bridge.job_runs import (
    FINISHED,
    active_run,
    freshest_scheduler,
    get_run,
    insert_run,
    list_runs,
    run_json,
)
from wp_bridge.locks import named_lock

from ..auth import caller, network_caller
from ..errors import ApiError
from ..runtime import db, runtime
from . import id_field, json_body, responds, write_transaction

blp = Blueprint("jobs", __name__, url_prefix="/api/v1", description="Scheduled jobs and their runs")

HEARTBEAT_FRESH_SECONDS = 30


class RunSchema(Schema):
    id = fields.Integer()
    job = fields.String()
    site = fields.Integer(allow_none=True)
    trigger = fields.String(metadata={"description": "schedule, api or cli"})
    requested_by = fields.Integer(allow_none=True)
    status = fields.String(metadata={"description": "queued, running, succeeded, failed or skipped"})
    dry_run = fields.Boolean()
    options = fields.Dict()
    created_at = fields.String()
    started_at = fields.String(allow_none=True)
    finished_at = fields.String(allow_none=True)
    progress = fields.Dict()
    stats = fields.Dict(allow_none=True)
    summary = fields.String(allow_none=True)
    error = fields.String(allow_none=True)


class RunRequestSchema(Schema):
    site = fields.Integer(metadata={"description": "required for site-scoped jobs"})
    dry_run = fields.Boolean(load_default=False)


class RunsQuerySchema(Schema):
    job = fields.String(load_default=None)
    site = id_field(load_default=None)
    status = fields.String(load_default=None, validate=validate.OneOf(["queued", "running", *FINISHED]))
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 500))


def _who() -> tuple[bool, set[int]]:
    """(is operator, the sites where the caller is LOP expert); 403 for anyone else."""
    who = network_caller("Enkel beheerders en LOP-deskundigen zien de taken.")
    if who.operator:
        return True, set()
    expert_sites = {site for site, role in who.roles().items() if role is Role.LOP_EXPERT}
    if not expert_sites:
        raise ApiError(403, "forbidden", "Enkel beheerders en LOP-deskundigen zien de taken.")
    return False, expert_sites


def _scheduler_state(conn) -> tuple[float | None, dict]:
    row = freshest_scheduler(conn, runtime().network_tables)
    if row is None:
        return None, {}
    return (utcnow() - row.heartbeat_at).total_seconds(), json.loads(row.next_runs or "{}")


@blp.route("/jobs")
@responds(blp, 200)
def list_jobs():
    """Every job the caller may start, with its schedule, next run and last run (``may_start``); LOP experts
    also see the network jobs that concern them (the OV sync: when it runs next), without starting them."""
    operator, expert_sites = _who()
    conn = db()
    _age, next_runs = _scheduler_state(conn)
    visible_sites = None if operator else sorted(expert_sites)
    result = []
    for name, spec in sorted(all_jobs().items()):
        may_start = operator or spec.expert_may_start
        if not may_start and not spec.expert_may_see:
            continue
        last = list_runs(conn, runtime().network_tables, job=name, site_ids=visible_sites, limit=1)
        result.append({"name": name, "description": spec.description, "site_scoped": spec.site_scoped, "may_start": may_start,
                       "schedule": spec.schedule(os.environ),
                       "next_run_at": next_runs.get(name), "last_run": run_json(last[0]) if last else None})
    return {"jobs": result}


def _refuse_early(job: str, site, dry_run: bool, options: dict) -> None:
    """A real rollover before the site's switch day, or a snapshot of a day still to come: refused now,
    not when the scheduler gets to it."""
    rt = runtime()
    today = rt.today()
    if job == "rollover" and not dry_run and site.current_school_year:
        due = switch_date(site.current_school_year, parse_switch_day(rt.config.school_year_switch))
        if today < due:
            raise ApiError(409, "rollover_not_due", f"Het schooljaar {site.current_school_year} loopt tot "
                           f"{due:%d/%m/%Y}: de overgang naar het nieuwe schooljaar kan pas vanaf die dag.")
    if job == "free-places-snapshot" and options.get("date") and dt.date.fromisoformat(options["date"]) > today:
        raise ApiError(422, "validation_failed", "date: een momentopname van een dag in de toekomst kan niet.",
                       errors=[{"field": "date", "message": "Een dag in de toekomst kan niet."}])


def queue_run(job: str, site_id: int | None, *, dry_run: bool = False, options: dict | None = None) -> int:
    """Queue a run for the scheduler process: 503 when none is running, 409 while one is active."""
    age, _next = _scheduler_state(db())
    if age is None or age > HEARTBEAT_FRESH_SECONDS:
        raise ApiError(503, "scheduler_unavailable",
                       "De planner van de LOP-service draait niet (lop-sidecar scheduler): de taak zou niet starten. "
                       "Verwittig de technische beheerder.")
    with named_lock(runtime().engine, f"queue:{job}:{site_id}", timeout=5) as locked:
        if not locked:
            raise ApiError(503, "database_unavailable", "De taak kon nu niet ingepland worden: probeer het over enkele seconden opnieuw.", headers={"Retry-After": "5"})
        with write_transaction() as conn:
            existing = active_run(conn, runtime().network_tables, job, site_id)
            if existing is not None:
                state = "in de wachtrij" if existing.status == "queued" else "bezig"
                raise ApiError(409, "job_already_running", f"Taak {job} is al {state} (uitvoering {existing.id}).",
                               errors=[{"field": None, "message": "Loopt al.", "run_id": int(existing.id)}])
            return insert_run(conn, runtime().network_tables, job=job, site_id=site_id, trigger="api",
                              requested_by=caller().user_id, status="queued", dry_run=dry_run, options=options or {})


@blp.route("/jobs/<job>/runs", methods=["POST"])
@blp.doc(requestBody={"content": {"application/json": {"schema": RunRequestSchema}}})
@responds(blp, 202)
def start_run(job):
    """Queue a run; the scheduler process starts it within seconds. Job options go in the body too."""
    operator, expert_sites = _who()
    spec = get_job(job)
    if spec is None:
        raise ApiError(404, "job_not_found", f"Er bestaat geen taak {job!r}.")
    body = json_body()
    site_id = body.pop("site", None)
    dry_run = body.pop("dry_run", False)
    errors = []
    if not isinstance(dry_run, bool):
        errors.append({"field": "dry_run", "message": "true of false."})
    if spec.site_scoped:
        if not is_id(site_id):
            errors.append({"field": "site", "message": f"{job} loopt per site: geef het id van de site"})
    elif site_id is not None:
        errors.append({"field": "site", "message": f"Taak {job} hoort niet bij één site."})
    options, option_errors = parse_options(spec, body, operator=operator, dry_run=dry_run is True)
    errors += option_errors
    if errors:
        code = "option_not_allowed" if any(e.get("code") == "option_not_allowed" for e in errors) else "validation_failed"
        raise ApiError(422, code, "; ".join(e["message"] for e in errors),
                       errors=[{k: v for k, v in e.items() if k != "code"} for e in errors])
    if not operator and not (spec.expert_may_start and site_id in expert_sites):
        raise ApiError(403, "forbidden", "Een LOP-deskundige kan enkel taken van de eigen site starten.")
    if spec.site_scoped:
        site = runtime().network.get_site(db(), site_id)
        if site is None or not site.enabled:
            raise ApiError(404, "site_not_found", f"Site {site_id} is geen LOP-site.")
        _refuse_early(job, site, dry_run, options)
    run_id = queue_run(job, site_id, dry_run=dry_run, options=options)
    return {"id": run_id, "status": "queued"}, 202


@blp.route("/jobs/runs")
@blp.arguments(RunsQuerySchema, location="query")
@responds(blp, 200)
def runs(query):
    """Recent runs, newest first: all of them for operators, those of their own sites for LOP experts."""
    operator, expert_sites = _who()
    sites = None if operator else sorted(expert_sites)
    if query["site"] is not None:
        if not operator and query["site"] not in expert_sites:
            raise ApiError(403, "forbidden", "Dit is niet jouw site.")
        sites = [query["site"]]
    rows = list_runs(db(), runtime().network_tables, job=query["job"], site_ids=sites, status=query["status"],
                     limit=query["limit"])
    return {"runs": [run_json(row) for row in rows]}


@blp.route("/jobs/runs/<int:run_id>")
@responds(blp, 200, RunSchema)
def run(run_id):
    operator, expert_sites = _who()
    row = get_run(db(), runtime().network_tables, run_id)
    if row is None or not operator and row.site_id not in expert_sites:
        raise ApiError(404, "run_not_found", f"Uitvoering {run_id} bestaat niet.")
    return run_json(row)

