"""Issue 18, fault 3: MariaDB restarted or frozen under a running ``lop-sidecar serve`` and ``lop-sidecar
scheduler``.

The database is a second MariaDB server of the test's own (tests/faults/mariadb_instance.py), killed,
restarted and frozen (SIGSTOP) by the tests; the shared server on port 3306 is never touched. A request and a
job are caught mid-transaction deterministically: the test holds row locks they need, waits until InnoDB
shows them waiting, and only then takes the server away.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import create_engine, select, text, update

from bench._seed import SITE, seed_site
from rules.school_year import label_for_start_year, next_school_year, start_year_of
from wp_bridge.options import set_option
from wp_bridge.sites import SCHOOL_YEAR_OPTION, SETTINGS_OPTION
from wp_bridge.tables import site_tables

from .mariadb_instance import MariaDBInstance
from .processes import Sidecar, dump_tables, scalar, wait_until

CONNECT_TIMEOUT = 5  # wp_bridge/db.py: CONNECT_TIMEOUT_SECONDS
READ_TIMEOUT = 30  # the statement timeout for reads that issue 18 asks for
SCHOOLS, PROGRAMMES = 12, 5
PREFIX = f"wp_{SITE}_"
SITE_TABLES = [f"{PREFIX}{name}" for name in ("lop_offerings", "lop_audit_log", "lop_free_places_snapshots", "options")]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The second MariaDB, once per module; every test leaves it running."""
    instance = MariaDBInstance(tmp_path_factory.mktemp("mariadb"))
    instance.install()
    instance.start()
    yield instance
    instance.destroy()


@pytest.fixture
def server_running(server):
    yield server
    if server.paused:
        server.resume()
    if not server.running:
        server.start()


def seed(server: MariaDBInstance) -> tuple[str, dict]:
    """A fresh database with site 2 (12 schools × 5 programmes) a school year behind, so that its rollover is
    due today; its settings option exists (the rollover's last statement locks it)."""
    url = server.new_database()
    engine, network, info = seed_site(url, SCHOOLS, PROGRAMMES)
    previous = label_for_start_year(start_year_of(info["current"]) - 1)
    offerings = site_tables(network.prefix(SITE)).offerings
    with engine.begin() as conn:
        conn.execute(update(offerings).where(offerings.c.school_year == info["current"]).values(school_year=previous))
        conn.execute(update(offerings).where(offerings.c.school_year == info["next"]).values(school_year=info["current"]))
        set_option(conn, network.prefix(SITE), SCHOOL_YEAR_OPTION, previous)
        set_option(conn, network.prefix(SITE), SETTINGS_OPTION, json.dumps({"automatic_rollover": True}))
    engine.dispose()
    return url, {**info, "previous": previous}


def schools_path() -> str:
    return f"/api/v1/sites/{SITE}/schools"


def is_unavailable(response: requests.Response) -> bool:
    """The answer an outage must give: 503 problem+json ``database_unavailable`` with the Dutch detail."""
    body = response.json() if response.headers.get("Content-Type", "").startswith("application/problem+json") else {}
    return (response.status_code == 503 and body.get("code") == "database_unavailable"
            and body.get("detail", "").startswith("De databank antwoordt niet") and "Retry-After" in response.headers
            and "Traceback" not in response.text)


def timed(call) -> tuple[requests.Response, float]:
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def burst(served, n: int = 16, **call) -> list[tuple[requests.Response, float]]:
    """``n`` concurrent signed requests (both workers and several pooled connections get one)."""
    method, path = call.pop("method", "GET"), call.pop("path", schools_path())
    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(lambda _: timed(lambda: served.call(method, path, timeout=60, **call)), range(n)))


def blocked_writes(url: str) -> list[str]:
    """The writes the server is executing in the test's database: while the test holds the rows they need,
    they cannot end (INNODB_TRX does not always list a waiting transaction that already wrote; the process
    list does)."""
    with create_engine(url).connect() as conn:
        return [query for (query,) in conn.execute(text(
            "SELECT info FROM information_schema.PROCESSLIST WHERE db = DATABASE() AND command = 'Query' "
            "AND (info LIKE 'UPDATE%' OR info LIKE 'DELETE%' OR info LIKE 'SELECT%FOR UPDATE')"))]


def test_a_restart_under_requests_and_a_job(server_running):
    """The server is killed (SIGKILL, a crash) while a PATCH and a rollover run wait inside their transactions,
    stays down across a scheduled occurrence, and comes back."""
    server = server_running
    url, info = seed(server)
    sidecar = Sidecar(url)
    expert = info["expert"]
    o = site_tables(PREFIX).offerings
    with sidecar.scheduler() as (_scheduler, scheduler_log), sidecar.serve(workers=2, threads=4) as served:
        assert all(r.status_code == 200 for r, _ in burst(served, user=expert))
        wait_until(lambda: served.call("GET", "/api/v1/health").json()["scheduler"], what="first heartbeat")
        before = dump_tables(url, *SITE_TABLES)
        offering = scalar(url, f"SELECT MIN(id) FROM {PREFIX}lop_offerings")
        school = scalar(url, f"SELECT school_id FROM {PREFIX}lop_offerings WHERE id = {offering}")
        patch_path = f"{schools_path()}/{school}/offerings/{offering}"

        # Hold what the PATCH and the rollover need, so that both wait inside their transactions.
        holder_engine = create_engine(url)
        holder = holder_engine.connect()
        holder.execute(text(f"SELECT id FROM {PREFIX}lop_offerings WHERE id = :id FOR UPDATE"), {"id": offering})
        holder.execute(text(f"SELECT option_value FROM {PREFIX}options WHERE option_name = :n FOR UPDATE"),
                       {"n": SETTINGS_OPTION})
        with ThreadPoolExecutor(1) as pool:
            patch = pool.submit(timed, lambda: served.call("PATCH", patch_path, user=expert, json_body={"free_places": 1}))
            queued = served.call("POST", "/api/v1/jobs/rollover/runs", user=expert, json_body={"site": SITE})
            assert queued.status_code == 202, queued.text
            run_id = queued.json()["id"]
            waiting = wait_until(lambda: len(w := blocked_writes(url)) == 2 and w, what="the PATCH and the rollover waiting")
            # the PATCH's UPDATE, and the rollover's DELETE of the old year (its snapshot is written already)
            assert sorted(q.split()[0] for q in waiting) == ["DELETE", "UPDATE"], waiting

            server.kill()
            down_at = time.monotonic()
            response, _ = patch.result(timeout=CONNECT_TIMEOUT + 5)
            assert is_unavailable(response), response.text
            assert time.monotonic() - down_at <= CONNECT_TIMEOUT
        holder.invalidate()
        holder_engine.dispose()

        # During the outage: every request answers 503 within the connect timeout; liveness stays up.
        answers = burst(served, user=expert) + burst(served, 4, method="PATCH", path=patch_path, user=expert,
                                                        json_body={"free_places": 2})
        assert all(is_unavailable(r) for r, _ in answers), [r.text for r, _ in answers if not is_unavailable(r)]
        slowest_outage_answer = max(seconds for _, seconds in answers)
        assert slowest_outage_answer <= CONNECT_TIMEOUT
        health = served.call("GET", "/api/v1/health")
        assert (health.status_code, health.json()["database"]) == (503, "unavailable")
        assert served.call("GET", "/api/v1/health/live").status_code == 200

        # The in-flight rollover failed; a minutely occurrence (mail-outbox) falls in the outage.
        scheduler_log.wait_for(f"run {run_id} of rollover failed: database error:", timeout=15)
        missed = scheduler_log.wait_for("mail-outbox (occurrence ", timeout=75)
        stamp = missed.split("(occurrence ", 1)[1].split(")", 1)[0]

        server.start()
        back_at = time.monotonic()
        # Back without a restart: within 5 s every request succeeds again, on both workers.
        wait_until(lambda: all(r.status_code == 200 for r, _ in burst(served, user=expert)), timeout=CONNECT_TIMEOUT,
                   what="API answering 200 again")
        recovered_after = time.monotonic() - back_at
        assert served.process.poll() is None
        assert "\n".join(served.output.lines).count("Booting worker") == 2  # no worker was restarted

        # The run records why it failed; nothing of it or of the PATCH was applied.
        run = wait_until(lambda: (r := served.call("GET", f"/api/v1/jobs/runs/{run_id}", user=expert).json())
                         ["status"] != "running" and r, timeout=20, what="the failed run recorded")
        assert run["status"] == "failed" and run["error"].startswith("database error: 2013 Lost connection"), run
        assert dump_tables(url, *SITE_TABLES) == before

        # The scheduler kept its schedule: the occurrence that fell in the outage ran once it was back, and
        # the heartbeat is fresh again.
        dedup = f"mail-outbox:network:{stamp}"
        wait_until(lambda: scalar(url, "SELECT status FROM wp_lop_job_runs WHERE dedup_key = :k", k=dedup) == "succeeded",
                   timeout=30, what=f"the run of occurrence {stamp}")
        wait_until(lambda: served.call("GET", "/api/v1/health").json()["scheduler"]["heartbeat_age_seconds"] < 6,
                   timeout=15, what="a fresh heartbeat")

        # Both can simply be done again.
        again = served.call("PATCH", patch_path, user=expert, json_body={"free_places": 1})
        assert again.status_code == 200, again.text
        rerun = served.call("POST", "/api/v1/jobs/rollover/runs", user=expert, json_body={"site": SITE})
        assert rerun.status_code == 202, rerun.text
        done = wait_until(lambda: (r := served.call("GET", f"/api/v1/jobs/runs/{rerun.json()['id']}", user=expert)
                                   .json())["status"] not in ("queued", "running") and r, timeout=30, what="the rerun")
        assert done["status"] == "succeeded", done
        assert scalar(url, f"SELECT option_value FROM {PREFIX}options WHERE option_name = :n",
                      n=SCHOOL_YEAR_OPTION) == info["current"]
        with create_engine(url).connect() as conn:
            years = dict(conn.execute(select(o.c.school_year, text("COUNT(*)")).group_by(o.c.school_year)).all())
        assert years == {info["current"]: SCHOOLS * PROGRAMMES, next_school_year(info["current"]): SCHOOLS * PROGRAMMES}
        assert "Traceback" not in "\n".join(served.output.lines + scheduler_log.lines)
    print(f"\nrestart: slowest answer during the outage {slowest_outage_answer:.3f} s; API back {recovered_after:.2f} s "
          f"after the server greeted; missed occurrence {stamp} ran after the return")


def test_a_frozen_server_does_not_hold_a_worker_forever(server_running):
    """SIGSTOP: the kernel still accepts connections, nothing answers. A request on a pooled connection must
    end with 503 after the read timeout (plus one connect timeout for a fresh connection), not hang."""
    server = server_running
    url, info = seed(server)
    sidecar = Sidecar(url)
    # One worker, so that the request below surely meets the pooled connection of the warm-up.
    with sidecar.serve(workers=1, threads=4) as served:
        assert served.call("GET", schools_path(), user=info["expert"]).status_code == 200
        server.pause()
        try:
            started = time.monotonic()
            limit = READ_TIMEOUT + CONNECT_TIMEOUT + 5
            try:
                response = served.call("GET", schools_path(), user=info["expert"], timeout=limit + 5)
            except requests.Timeout:
                response = None
            waited = time.monotonic() - started
            if response is None:
                pytest.fail(f"a read on the frozen server held its worker for more than {limit + 5} s: the MySQL "
                            "connections have no read timeout (wp_bridge/db.py: connect_args read_timeout)")
            assert is_unavailable(response), response.text
            assert waited <= limit, f"answered after {waited:.1f} s"
            assert served.call("GET", "/api/v1/health/live", timeout=5).status_code == 200
        finally:
            server.resume()
        back_at = time.monotonic()
        wait_until(lambda: served.call("GET", schools_path(), user=info["expert"]).status_code == 200,
                   timeout=CONNECT_TIMEOUT, what="API answering 200 after SIGCONT")
        print(f"\nfrozen: 503 after {waited:.1f} s; back {time.monotonic() - back_at:.2f} s after SIGCONT")
