"""Job runs, the scheduler and the mail-outbox sender (issue 9)."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace

import pytest
from mysql.connector.errors import get_mysql_exception
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from jobs import registry
from jobs.mail import MAX_ATTEMPTS, queue_mail
from jobs.registry import JobRefused, JobResult, JobSpec
from jobs.runner import create_run, execute_run, lock_name, run_now
from jobs.scheduler import (
    ScheduleError,
    SchedulerProcess,
    load_schedules,
    previous_fire_time,
)
from service.runtime import Runtime
from tests.conftest import SECRET, SmtpSink
from wp_bridge.db import make_engine, utcnow
from wp_bridge.job_runs import heartbeat
from wp_bridge.locks import named_lock

BRUSSELS = "Europe/Brussels"
CLI = [sys.executable, "-m", "service.cli"]


def runs(rt, job=None):
    r = rt.network_tables.job_runs
    query = select(r).order_by(r.c.id)
    if job:
        query = query.where(r.c.job == job)
    with rt.engine.connect() as conn:
        return conn.execute(query).all()


@pytest.fixture
def test_job(monkeypatch):
    """Register a job whose behaviour a test sets: ``behaviour(ctx)`` returns a JobResult or raises."""
    calls = []

    def install(behaviour, name="test-job", **spec_fields):
        def run(ctx):
            calls.append(ctx)
            return behaviour(ctx)

        spec = JobSpec(name=name, description="a job for tests", run=run, default_schedule="* * * * *",
                       misfire_grace_seconds=3600, **spec_fields)
        monkeypatch.setitem(registry._JOBS, name, spec)
        return spec

    install.calls = calls
    return install


# --- the runner --------------------------------------------------------------------------------


def test_a_run_records_its_outcome(rt, users):
    with rt.engine.begin() as conn:
        conn.execute(rt.network_tables.request_nonces.insert(), [
            {"nonce": f"old-nonce-{n:08d}", "seen_at": int(time.time()) - 3600} for n in range(3)])
    run = run_now(rt, "prune-nonces", site_id=None, trigger="cli")
    assert run["status"] == "succeeded"
    assert run["stats"] == {"deleted": 3} and run["summary"] == "3 request nonces older than 15 minutes deleted"
    assert run["trigger"] == "cli" and run["started_at"] and run["finished_at"]


def mysql_error(errno: int, message: str):
    return get_mysql_exception(errno, msg=message, sqlstate="23000")


@pytest.mark.parametrize("raised, error", [
    (JobRefused("the file has 3 bad rows; first: line 7"), "the file has 3 bad rows; first: line 7"),
    (RuntimeError("boom"), "RuntimeError: boom"),
    (OperationalError("SELECT secret FROM x WHERE pw='hunter2'", {}, Exception("conn lost")), "database error: Exception"),
    (IntegrityError("INSERT INTO x VALUES ('hunter2')", {}, mysql_error(1062, "Duplicate entry 'hunter2' for key 'pw'")),
     "database error: 1062 Duplicate entry '…' for key '…'"),
])
def test_failures_are_recorded_without_sql_or_secrets(rt, users, test_job, raised, error):
    def fail(_ctx):
        raise raised

    test_job(fail)
    run = run_now(rt, "test-job", site_id=None, trigger="cli")
    assert (run["status"], run["error"]) == ("failed", error)
    assert "hunter2" not in (run["error"] or "")


def test_a_failed_occurrence_does_not_stop_the_next(rt, users, test_job):
    outcomes = iter([RuntimeError("first"), JobResult("second time lucky")])

    def flaky(_ctx):
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    test_job(flaky)
    first = create_run(rt, "test-job", site_id=None, trigger="schedule", dedup_key="test-job:network:2026-01-01T03:00Z")
    second = create_run(rt, "test-job", site_id=None, trigger="schedule", dedup_key="test-job:network:2026-01-02T03:00Z")
    assert execute_run(rt, first)["status"] == "failed"
    assert execute_run(rt, second)["status"] == "succeeded"


def test_the_same_occurrence_is_recorded_once(rt, users, test_job):
    test_job(lambda ctx: JobResult("ok"))
    key = "test-job:network:2026-01-01T03:00Z"
    assert create_run(rt, "test-job", site_id=None, trigger="schedule", dedup_key=key) is not None
    assert create_run(rt, "test-job", site_id=None, trigger="schedule", dedup_key=key) is None


def test_a_run_whose_lock_is_taken_is_skipped(rt, users, test_job):
    test_job(lambda ctx: JobResult("ok"))
    with named_lock(rt.engine, lock_name("test-job", None)) as held:
        assert held
        run = run_now(rt, "test-job", site_id=None, trigger="cli")
    assert (run["status"], run["error"]) == ("skipped", "locked")
    assert test_job.calls == []


def test_locks_are_per_job_and_site(rt, users, test_job):
    test_job(lambda ctx: JobResult(f"site {ctx.site_id}"), site_scoped=True)
    with named_lock(rt.engine, lock_name("test-job", 2)):
        assert run_now(rt, "test-job", site_id=3, trigger="cli")["status"] == "succeeded"
        assert run_now(rt, "test-job", site_id=2, trigger="cli")["status"] == "skipped"


def test_two_schedulers_firing_the_same_occurrence_run_it_once(rt, users, test_job):
    def slow(ctx):
        time.sleep(0.3)
        return JobResult("done")

    test_job(slow)
    second_runtime = Runtime(rt.config, make_engine(rt.config.database_url), rt.network)
    triggers = {"test-job": CronTrigger.from_crontab("0 3 * * *", timezone=BRUSSELS)}
    schedulers = [SchedulerProcess(runtime, triggers) for runtime in (rt, second_runtime)]
    now = dt.datetime.now(dt.timezone.utc)
    occurrence = previous_fire_time(triggers["test-job"], now, 2 * 86400)

    def fire(scheduler):
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr("jobs.scheduler.previous_fire_time", lambda *_a: occurrence)
            scheduler.fire("test-job")

    threads = [threading.Thread(target=fire, args=(s,)) for s in schedulers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(test_job.calls) == 1
    assert [(r.status, r.trigger) for r in runs(rt, "test-job")] == [("succeeded", "schedule")]
    second_runtime.engine.dispose()


def test_runs_left_running_by_a_dead_process_are_marked_interrupted(rt, users, test_job):
    test_job(lambda ctx: JobResult("ok"), site_scoped=True)
    r = rt.network_tables.job_runs
    long_ago = utcnow() - dt.timedelta(minutes=10)
    with rt.engine.begin() as conn:
        conn.execute(r.insert(), [
            {"job": "test-job", "site_id": 2, "trigger": "schedule", "status": "running", "dry_run": False,
             "created_at": long_ago, "started_at": long_ago},
            {"job": "test-job", "site_id": 3, "trigger": "schedule", "status": "running", "dry_run": False,
             "created_at": long_ago, "started_at": long_ago},
        ])
    scheduler = SchedulerProcess(rt, {})
    with named_lock(rt.engine, lock_name("test-job", 3)):  # site 3's run is alive: its lock is held
        scheduler.poll_queue()
    assert [(row.site_id, row.status, row.error) for row in runs(rt, "test-job")] == [
        (2, "failed", "interrupted"), (3, "running", None)]


def test_previous_fire_time_catches_up_within_the_grace():
    rollover = CronTrigger.from_crontab("15 0 1 8 *", timezone=BRUSSELS)
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(BRUSSELS)
    back_that_morning = dt.datetime(2027, 8, 1, 9, 30, tzinfo=tz)
    assert previous_fire_time(rollover, back_that_morning, 3 * 86400) == dt.datetime(2027, 8, 1, 0, 15, tzinfo=tz)
    assert previous_fire_time(rollover, dt.datetime(2027, 8, 5, tzinfo=tz), 3 * 86400) is None
    assert previous_fire_time(rollover, dt.datetime(2027, 7, 31, tzinfo=tz), 3 * 86400) is None


def test_old_runs_of_frequent_jobs_are_pruned(rt, users):
    r = rt.network_tables.job_runs
    old, recent = utcnow() - dt.timedelta(days=40), utcnow() - dt.timedelta(days=2)
    with rt.engine.begin() as conn:
        conn.execute(r.insert(), [
            {"job": job, "trigger": "schedule", "status": "succeeded", "dry_run": False, "created_at": when,
             "finished_at": when} for job, when in (("mail-outbox", old), ("mail-outbox", recent), ("rollover", old))])
    run = run_now(rt, "prune-job-runs", site_id=None, trigger="cli")
    assert run["stats"] == {"deleted": 1}
    assert sorted((row.job, row.created_at == old) for row in runs(rt) if row.job != "prune-job-runs") == [
        ("mail-outbox", False), ("rollover", True)]


def test_schedules_from_the_environment():
    from zoneinfo import ZoneInfo

    triggers = load_schedules({"LOP_SCHEDULE_MAIL_OUTBOX": "*/5 * * * *"}, ZoneInfo(BRUSSELS))
    assert "mail-outbox" in triggers and "prune-nonces" in triggers
    with pytest.raises(ScheduleError) as error:
        load_schedules({"LOP_SCHEDULE_PRUNE_NONCES": "every hour"}, ZoneInfo(BRUSSELS))
    assert error.value.variable == "LOP_SCHEDULE_PRUNE_NONCES"


def test_a_malformed_schedule_stops_the_scheduler_naming_it():
    result = subprocess.run(CLI + ["scheduler"], env={**os.environ, "LOP_SCHEDULE_MAIL_OUTBOX": "61 * * * *",
                                                      "LOP_DATABASE_URL": "sqlite:///unused.sqlite"},
                            capture_output=True, text=True, timeout=60)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2
    assert len(lines) == 1 and lines[0].startswith("lop-sidecar: configuration error: LOP_SCHEDULE_MAIL_OUTBOX: ")


# --- the API -----------------------------------------------------------------------------------


def fresh_heartbeat(rt, age_seconds: float = 0):
    heartbeat(rt.engine, rt.network_tables, "test-scheduler", utcnow(), {"prune-nonces": "2030-01-01T00:07:00Z"})
    if age_seconds:
        s = rt.network_tables.schedulers
        with rt.engine.begin() as conn:
            conn.execute(update(s).values(heartbeat_at=utcnow() - dt.timedelta(seconds=age_seconds)))


def test_a_queued_run_is_picked_up_by_the_scheduler(client, rt, users):
    fresh_heartbeat(rt)
    response = client.post("/api/v1/jobs/prune-nonces/runs", user=users.operator, json={})
    assert response.status_code == 202, response.json
    run_id = response.json["id"]
    assert response.json == {"id": run_id, "status": "queued"}
    scheduler = SchedulerProcess(rt, {})
    scheduler.poll_queue()
    scheduler._pool.shutdown(wait=True)
    run = client.get(f"/api/v1/jobs/runs/{run_id}", user=users.operator).json
    assert (run["status"], run["trigger"], run["requested_by"]) == ("succeeded", "api", users.operator)
    assert run["summary"].endswith("deleted")


def test_post_while_a_run_is_active_gives_409_then_succeeds(client, rt, users):
    fresh_heartbeat(rt)
    running = create_run(rt, "prune-nonces", site_id=None, trigger="schedule")
    response = client.post("/api/v1/jobs/prune-nonces/runs", user=users.operator, json={})
    assert (response.status_code, response.json["code"]) == (409, "job_already_running")
    assert response.json["errors"][0]["run_id"] == running
    execute_run(rt, running)
    assert client.post("/api/v1/jobs/prune-nonces/runs", user=users.operator, json={}).status_code == 202


def test_post_without_a_live_scheduler_is_503(client, rt, users):
    assert client.post("/api/v1/jobs/prune-nonces/runs", user=users.operator, json={}).json["code"] == "scheduler_unavailable"
    fresh_heartbeat(rt, age_seconds=120)
    stale = client.post("/api/v1/jobs/prune-nonces/runs", user=users.operator, json={})
    assert (stale.status_code, stale.json["code"]) == (503, "scheduler_unavailable")
    assert runs(rt) == []


def test_post_validation_and_permissions(client, rt, users, test_job):
    fresh_heartbeat(rt)
    test_job(lambda ctx: JobResult("ok"), name="site-job", site_scoped=True, expert_may_start=True,
             options=(registry.JobOption("force", bool, "ignore the guard"),
                      registry.JobOption("source", str, "a URL or path", operator_only=True)))
    post = client.post
    assert post("/api/v1/jobs/nope/runs", user=users.operator, json={}).status_code == 404
    for body, field in (({"site": 2, "colour": 1}, "colour"), ({"site": 2, "force": "yes"}, "force"),
                        ({}, "site"), ({"site": 2, "dry_run": "no"}, "dry_run")):
        response = post("/api/v1/jobs/site-job/runs", user=users.operator, json=body)
        assert (response.status_code, response.json["errors"][0]["field"]) == (422, field), body
    assert post("/api/v1/jobs/prune-nonces/runs", user=users.operator, json={"site": 2}).status_code == 422
    assert post("/api/v1/jobs/site-job/runs", user=users.expert2, json={"site": 3}).status_code == 403
    assert post("/api/v1/jobs/site-job/runs", user=users.expert2, json={"site": 2, "source": "/etc/passwd"}).status_code == 422
    assert post("/api/v1/jobs/prune-nonces/runs", user=users.expert2, json={}).status_code == 403
    for user in (users.admin2, users.nobody, 0):
        assert post("/api/v1/jobs/site-job/runs", user=user, json={"site": 2}).status_code == 403
    ok = post("/api/v1/jobs/site-job/runs", user=users.expert2, json={"site": 2, "force": True, "dry_run": True})
    assert ok.status_code == 202
    run = client.get(f"/api/v1/jobs/runs/{ok.json['id']}", user=users.expert2).json
    assert (run["site"], run["options"], run["dry_run"]) == (2, {"force": True}, True)
    assert client.get(f"/api/v1/jobs/runs/{ok.json['id']}", user=users.expert3).status_code == 404


def test_listing_jobs_and_runs(client, rt, users, test_job):
    fresh_heartbeat(rt)
    test_job(lambda ctx: JobResult("ok"), name="site-job", site_scoped=True, expert_may_start=True)
    run_now(rt, "site-job", site_id=2, trigger="cli")
    run_now(rt, "site-job", site_id=3, trigger="cli")
    run_now(rt, "prune-nonces", site_id=None, trigger="cli")
    jobs = {j["name"]: j for j in client.get("/api/v1/jobs", user=users.operator).json["jobs"]}
    assert jobs["prune-nonces"]["next_run_at"] == "2030-01-01T00:07:00Z"
    assert jobs["prune-nonces"]["schedule"] == "7 * * * *"
    assert jobs["site-job"]["last_run"]["site"] == 3
    expert_jobs = {j["name"]: j for j in client.get("/api/v1/jobs", user=users.expert2).json["jobs"]}
    # the per-site jobs they start, and the OV sync they only see (when it runs next; not its network-wide runs)
    assert sorted(expert_jobs) == ["free-places-snapshot", "ov-sync", "rollover", "site-job"]
    assert [n for n, j in expert_jobs.items() if not j["may_start"]] == ["ov-sync"]
    assert expert_jobs["ov-sync"]["schedule"] == "30 2 * * *" and "next_run_at" in expert_jobs["ov-sync"]
    assert all(j["may_start"] for j in jobs.values())  # operators start everything
    assert expert_jobs["site-job"]["last_run"]["site"] == 2
    assert len(client.get("/api/v1/jobs/runs", user=users.operator).json["runs"]) == 3
    assert [r["site"] for r in client.get("/api/v1/jobs/runs", user=users.expert2).json["runs"]] == [2]
    assert client.get("/api/v1/jobs/runs?site=3", user=users.expert2).status_code == 403
    assert len(client.get("/api/v1/jobs/runs?job=prune-nonces&limit=1", user=users.operator).json["runs"]) == 1
    assert client.get("/api/v1/jobs/runs?status=weird", user=users.operator).status_code == 422
    assert client.get("/api/v1/jobs", user=users.admin2).status_code == 403


def test_health_reports_the_scheduler(app, rt, users):
    assert app.test_client().get("/api/v1/health").json["scheduler"] is None
    fresh_heartbeat(rt)
    scheduler = app.test_client().get("/api/v1/health").json["scheduler"]
    assert scheduler["heartbeat_age_seconds"] < 5
    assert scheduler["next_runs"] == {"prune-nonces": "2030-01-01T00:07:00Z"}


# --- the mail-outbox sender --------------------------------------------------------------------


def with_smtp(rt, url) -> Runtime:
    return Runtime(replace(rt.config, smtp_url=url, mail_from="LOP Scheldeland <lop@example.org>"), rt.engine, rt.network)


def queue(rt, n=1, to="directie@school.example"):
    with rt.engine.begin() as conn:
        return [queue_mail(conn, rt.network_tables.mail_outbox, site_id=2, to=to, subject=f"Welkom, schoolbeheerder {i}",
                           body_text="Stel je wachtwoord in via de link hieronder.\n", body_html="<p>Stel je wachtwoord in</p>")
                for i in range(n)]


def outbox(rt):
    o = rt.network_tables.mail_outbox
    with rt.engine.connect() as conn:
        return conn.execute(select(o).order_by(o.c.id)).all()


def test_mail_is_delivered_through_smtp(rt, users, smtp):
    queue(rt, 2)
    run = run_now(with_smtp(rt, smtp.url), "mail-outbox", site_id=None, trigger="cli")
    assert run["summary"] == "2 sent, 0 to retry, 0 failed"
    assert [m["Subject"] for m in smtp.messages] == ["Welkom, schoolbeheerder 0", "Welkom, schoolbeheerder 1"]
    assert smtp.messages[0]["From"] == "LOP Scheldeland <lop@example.org>"
    assert "lop-outbox-" in smtp.messages[0]["Message-ID"]
    assert [row.status for row in outbox(rt)] == ["sent", "sent"]
    again = run_now(with_smtp(rt, smtp.url), "mail-outbox", site_id=None, trigger="cli")
    assert again["summary"] == "no mail due" and len(smtp.messages) == 2


def test_a_mail_of_a_rolled_back_change_is_never_sent(rt, users):
    with pytest.raises(RuntimeError):
        with rt.engine.begin() as conn:
            queue_mail(conn, rt.network_tables.mail_outbox, site_id=2, to="x@example.org", subject="s", body_text="b")
            raise RuntimeError("the change failed")
    assert outbox(rt) == []


def test_mail_retries_with_backoff_then_fails(rt, users):
    queue(rt, 1)
    unreachable = with_smtp(rt, "smtp://127.0.0.1:1")
    run = run_now(unreachable, "mail-outbox", site_id=None, trigger="cli")
    assert run["status"] == "succeeded" and run["stats"]["retrying"] == 1
    row = outbox(rt)[0]
    assert (row.status, row.attempts) == ("pending", 1) and row.last_error
    assert dt.timedelta(seconds=50) < row.next_attempt_at - utcnow() < dt.timedelta(seconds=70)
    o = rt.network_tables.mail_outbox
    with rt.engine.begin() as conn:
        conn.execute(update(o).values(attempts=MAX_ATTEMPTS - 1, next_attempt_at=utcnow()))
    run_now(unreachable, "mail-outbox", site_id=None, trigger="cli")
    assert (outbox(rt)[0].status, outbox(rt)[0].attempts) == ("failed", MAX_ATTEMPTS)


def test_one_bad_mail_never_blocks_the_others_and_bodies_are_not_kept(rt, users, smtp):
    """A line break inside an address (queued before addresses were matched whole) fails that mail only."""
    bad = queue(rt, 1, to="victim\n@example.org")[0]
    good = queue(rt, 2)
    run = run_now(with_smtp(rt, smtp.url), "mail-outbox", site_id=None, trigger="cli")
    assert run["summary"] == "2 sent, 1 to retry, 0 failed"
    rows = {row.id: row for row in outbox(rt)}
    assert rows[bad].status == "pending" and rows[bad].attempts == 1 and "ValueError" in rows[bad].last_error
    assert [rows[i].status for i in good] == ["sent", "sent"] and len(smtp.messages) == 2
    assert all(rows[i].body_text == "" and rows[i].body_html is None for i in good)  # the key left with the mail
    assert rows[bad].body_text  # still to be sent


def test_a_mail_older_than_its_key_is_not_sent(rt, users, smtp):
    old = queue(rt, 1)[0]
    o = rt.network_tables.mail_outbox
    with rt.engine.begin() as conn:
        conn.execute(update(o).where(o.c.id == old).values(created_at=utcnow() - dt.timedelta(days=1, minutes=1)))
    run = run_now(with_smtp(rt, smtp.url), "mail-outbox", site_id=None, trigger="cli")
    assert run["summary"] == "no mail due, 1 expired" and smtp.messages == []
    assert (run["stats"]["expired"], run["stats"]["failed"]) == (1, 0)
    row = outbox(rt)[0]
    assert (row.status, row.body_text, row.body_html, row.sent_at) == ("expired", "", None, None)
    assert row.last_error.startswith("verlopen")


def test_a_mail_cancelled_after_the_batch_was_read_is_not_sent(rt, users, smtp, monkeypatch):
    """The sender reads each mail's status again just before it sends it."""
    from jobs import mail

    first, second = queue(rt, 2)
    o = rt.network_tables.mail_outbox
    real_build = mail.build_message

    def build_and_cancel_the_next(row, sender):
        if row.id == first:  # while the first goes out, the second is cancelled
            with rt.engine.begin() as conn:
                conn.execute(update(o).where(o.c.id == second).values(status="cancelled", body_text=""))
        return real_build(row, sender)

    monkeypatch.setattr(mail, "build_message", build_and_cancel_the_next)
    run = run_now(with_smtp(rt, smtp.url), "mail-outbox", site_id=None, trigger="cli")
    assert run["summary"] == "1 sent, 0 to retry, 0 failed, 1 cancelled"
    assert [m["Subject"] for m in smtp.messages] == ["Welkom, schoolbeheerder 0"]
    assert [row.status for row in outbox(rt)] == ["sent", "cancelled"]


def test_due_mail_without_smtp_settings_fails_the_run(rt, users):
    queue(rt, 1)
    run = run_now(with_smtp(rt, None), "mail-outbox", site_id=None, trigger="cli")
    assert (run["status"], run["error"]) == ("failed", "1 mails are due but LOP_SMTP_URL is not set")
    assert outbox(rt)[0].status == "pending"


# --- real scheduler processes ------------------------------------------------------------------


def start_scheduler(rt, **env):
    return subprocess.Popen(CLI + ["scheduler"], env={**os.environ, "LOP_DATABASE_URL": rt.config.database_url,
                                                       "LOP_SHARED_SECRET": SECRET, **env},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_until(condition, timeout=30.0, interval=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError("condition not met in time")


def test_sigterm_during_a_run_stops_cleanly(rt, users):
    sink = SmtpSink(delay=1.5)
    try:
        queue(rt, 3)
        process = start_scheduler(rt, LOP_SMTP_URL=sink.url, LOP_SCHEDULE_MAIL_OUTBOX="0 0 1 1 *")
        run_id = create_run(rt, "mail-outbox", site_id=None, trigger="api", requested_by=users.operator)
        wait_until(lambda: runs(rt, "mail-outbox")[0].status == "running")
        # Stop while the first mail is on the wire: it must finish, the other two stay queued.
        assert sink.data_started.wait(timeout=30)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        run = [r for r in runs(rt, "mail-outbox") if r.id == run_id][0]
        assert (run.status, run.error) == ("failed", "interrupted: the scheduler was stopped")
        assert [row.status for row in outbox(rt)] == ["sent", "pending", "pending"]
        with named_lock(rt.engine, lock_name("mail-outbox", None)) as free:
            assert free
        with rt.engine.connect() as conn:
            assert conn.execute(select(rt.network_tables.schedulers)).all() == []
    finally:
        sink.stop()


def test_two_scheduler_processes_run_a_due_job_once(rt, users):
    processes = [start_scheduler(rt, LOP_SCHEDULE_PRUNE_NONCES="* * * * *") for _ in range(2)]
    try:
        wait_until(lambda: len({r.dedup_key for r in runs(rt, "prune-nonces") if r.status == "succeeded"}) >= 1)
        time.sleep(2)
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            assert process.wait(timeout=30) == 0
    scheduled = [r for r in runs(rt, "prune-nonces") if r.trigger == "schedule"]
    assert scheduled and all(r.status == "succeeded" for r in scheduled)
    assert len({r.dedup_key for r in scheduled}) == len(scheduled)  # one run per occurrence, no skips


def test_the_scheduler_waits_for_an_unreachable_database():
    process = subprocess.Popen(CLI + ["scheduler"], env={**os.environ, "LOP_DATABASE_URL": "mysql+mysqlconnector://root@127.0.0.1:1/x"},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(4)
    assert process.poll() is None  # still there: no crash loop
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    log = process.stderr.read()
    assert log.count("database not reachable") >= 2
    assert "retrying in 1 s" in log and "retrying in 2 s" in log
