"""kill -9 mid-work (issue 18, Faults 1): the rollover of a 300-school site, a 2,000-row school-admin import
through ``lop-sidecar serve``, an AgODi sync of 10,000 rows, an OV sync and a ``log prune``, each killed early,
in the middle and just before its commit by a fault point (``LOP_TEST_KILL_AT``: the process SIGKILLs itself
there, as ``kill -9`` or a power cut would).

Each case seeds one database and copies it table by table into a second one, where an uninterrupted run gives
the reference "after" (in a thread, beside the kills). On the first database, after every kill the affected
tables are dumped and compared byte for byte with the dump taken before (every kill here falls before a commit,
so "before" is the only right answer); the run the dead process left ``running`` becomes ``failed`` /
``interrupted`` once a scheduler runs, its named lock is free, the job runs again (the next kill point is
reached by a new run), and the final rerun leaves the same data as the reference.

Comparing the rerun with the reference puts aside two things, and only those: surrogate keys handed out after
the seed (InnoDB does not give back the values a rolled-back insert took, so the killed attempts move them on;
rows of the seed keep and are compared by their ids) and clock or random values (timestamps, set-password
keys, request ids). Everything else is compared as stored.

The scheduler judges a run dead only once it is 30 s old and its lock is free (jobs/runner.py,
``mark_interrupted``: a run is claimed a moment before its lock is taken). Rather than wait those 30 s per kill,
a test moves the ``started_at`` of a run whose process it saw die (return code -9) 31 s back, as waiting would;
the product's rule for live runs stays as it is, and the last test lets a scheduler judge a run on the real
clock, without that help.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gzip
import io
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from openpyxl import Workbook
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from bench._seed import SITE, seed_site
from jobs.registry import MANUAL, all_jobs
from jobs.runner import lock_name, run_now
from rules.school_year import current_school_year
from service.config import Config
from service.runtime import Runtime
from tests.e2e.fake_ov import FakeOv, catalogue_entry, offering
from wp_bridge.locks import ACCOUNTS_LOCK, _mysql_lock_name
from wp_bridge.migrations import migrate
from wp_bridge.tables import site_tables
from wp_bridge.wp_install import install_network

from .processes import Sidecar, dump_tables, scalar, wait_until

# No job fires on its schedule while a test's scheduler runs: it is there to judge runs left running.
SCHEDULES_OFF = {spec.schedule_variable: MANUAL for spec in all_jobs().values()}
RUNS = "wp_lop_job_runs"
SURROGATE_KEYS = {"id", "ID", "option_id", "umeta_id"}
CURRENT = current_school_year(dt.date.today())
VORMEN = ["GSO", "ASO", "BSO", "TSO", "HBO", "KSO", "999"]


@pytest.fixture
def two_databases(database_factories):
    """Two empty databases: the one the kills hit, and the reference's."""
    factory = database_factories("mysql")
    return factory.new_url(), factory.new_url()


@pytest.fixture(scope="module", autouse=True)
def unaided_dead_run(database_factories, tmp_path_factory):
    """A run killed as this module starts and left alone: the last test lets a scheduler judge it on the real
    clock, without moving its start back (in a whole run of the module it is long past 30 s old by then)."""
    url = database_factories("mysql").new_url()
    network_only(url)
    source = tmp_path_factory.mktemp("agodi") / "20260601 AG.txt"
    source.write_bytes(agodi_file(range(10001, 10021), changed=False))
    assert_killed(Sidecar(url).run("jobs", "run", "agodi-sync", "--source", str(source), kill_at="agodi.before_commit"),
                  "agodi.before_commit")
    return url, left_running(url, "agodi-sync")


# --- helpers ---------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def connection(url: str, *, begin: bool = False):
    engine = create_engine(url)
    try:
        with engine.begin() if begin else engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


def copy_database(source: str, target: str) -> None:
    """Every table of ``source`` (structure, rows, auto-increment counter) into the empty database ``target``."""
    src, dst = make_url(source).database, make_url(target).database
    with connection(source, begin=True) as conn:
        conn.execute(text("SET SESSION foreign_key_checks = 0"))
        tables = conn.execute(text("SELECT table_name, auto_increment FROM information_schema.tables "
                                   "WHERE table_schema = :s AND table_type = 'BASE TABLE'"), {"s": src}).all()
        for name, counter in tables:
            conn.execute(text(f"CREATE TABLE `{dst}`.`{name}` LIKE `{src}`.`{name}`"))
            conn.execute(text(f"INSERT INTO `{dst}`.`{name}` SELECT * FROM `{src}`.`{name}`"))
            if counter:
                conn.execute(text(f"ALTER TABLE `{dst}`.`{name}` AUTO_INCREMENT = {int(counter)}"))


class Alongside:
    """Work in a thread beside the test's own (the reference run, a server stopping); ``result()`` waits for it."""

    def __init__(self, function, *args, **kwargs):
        self._outcome: list = []
        self.seconds = 0.0

        def run():
            started = time.monotonic()
            try:
                self._outcome.append((True, function(*args, **kwargs)))
            except BaseException as exc:  # noqa: BLE001 — raised again in the test's thread
                self._outcome.append((False, exc))
            self.seconds = time.monotonic() - started

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    def result(self, timeout: float = 300):
        self._thread.join(timeout)
        assert self._outcome, f"the work alongside did not finish within {timeout} s"
        ok, value = self._outcome[0]
        if not ok:
            raise value
        return value


def finished(sidecar: Sidecar, *args: str) -> str:
    """A run to its end; its output."""
    result = sidecar.run(*args)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def assert_killed(result, point: str) -> None:
    assert result.returncode == -9, (f"{point}: the process was not killed at its fault point "
                                     f"(exit {result.returncode}):\n{result.stdout}\n{result.stderr[-3000:]}")


def lock_is_free(url: str, name: str) -> bool:
    engine = create_engine(url)
    scoped = _mysql_lock_name(engine, name)
    engine.dispose()
    return scalar(url, "SELECT IS_FREE_LOCK(:n)", n=scoped) == 1


def wait_lock_free(url: str, name: str, what: str) -> float:
    """Seconds until the server has released the dead process's lock (it does when it sees the socket close)."""
    started = time.monotonic()
    wait_until(lambda: lock_is_free(url, name), timeout=10, interval=0.1, what=f"{what}: lock {name} free")
    return time.monotonic() - started


def run_row(url: str, run_id: int) -> dict:
    with connection(url) as conn:
        return dict(conn.execute(text(f"SELECT * FROM {RUNS} WHERE id = :i"), {"i": run_id}).mappings().one())


def left_running(url: str, job: str) -> int:
    with connection(url) as conn:
        ids = list(conn.execute(text(f"SELECT id FROM {RUNS} WHERE job = :j AND status = 'running'"), {"j": job}).scalars())
    assert len(ids) == 1, f"{job}: expected one run left running by the dead process, found {ids}"
    return int(ids[0])


def age_dead_run(url: str, run_id: int) -> None:
    """Its process is gone (the test saw it die): let it be 31 s old, as waiting would."""
    with connection(url, begin=True) as conn:
        conn.execute(text(f"UPDATE {RUNS} SET started_at = started_at - INTERVAL 31 SECOND WHERE id = :i"), {"i": run_id})


def wait_interrupted(url: str, run_id: int, what: str) -> None:
    wait_until(lambda: run_row(url, run_id)["status"] != "running", timeout=60, interval=0.2,
               what=f"{what}: run {run_id} judged by the scheduler")
    row = run_row(url, run_id)
    assert (row["status"], row["error"]) == ("failed", "interrupted"), f"{what}: {row}"
    assert row["finished_at"] is not None


def next_keys(dump: dict[str, list]) -> dict[str, int]:
    """Per table the first surrogate key after the seed's (the first column is the key in every table here)."""
    return {name: max((row[0] for row in rows), default=0) + 1 for name, rows in dump.items()}


def comparable(url: str, tables: list[str], first_new: dict[str, int], **convert) -> dict[str, list]:
    """The tables with what a rerun cannot repeat put aside: surrogate keys from ``first_new`` (per table) on, and
    clock values; ``convert`` maps "table.column" to a function (value, row as a dict) for what else a table needs.
    Rows are sorted, as new ids no longer order them."""
    with connection(url) as conn:
        columns = {name: [c["name"] for c in inspect(conn).get_columns(name)] for name in tables}
    result = {}
    for name, rows in dump_tables(url, *tables).items():
        kept = []
        for row in rows:
            stored = dict(zip(columns[name], row, strict=True))
            values = []
            for column, value in stored.items():
                if f"{name}.{column}" in convert:
                    value = convert[f"{name}.{column}"](value, stored)
                elif isinstance(value, dt.datetime):
                    value = "<time>"
                elif column in SURROGATE_KEYS and value >= first_new.get(name, float("inf")):
                    value = "<new>"
                values.append(value)
            kept.append(tuple(values))
        result[name] = sorted(kept, key=repr)
    return result


def kill_job(sidecar: Sidecar, args: tuple, job: str, site_id: int | None, points: list[str], tables: list[str],
             before: dict[str, list]) -> list[dict]:
    """Kill ``jobs run …`` at each point in turn on the same database: each time the tables are as before, the
    lock is free and the run left running is judged interrupted. The scheduler starts after the first kill (one
    coming up after a crash) and keeps running for the others (one that was up all along)."""
    url = sidecar.database_url
    observed = []
    with contextlib.ExitStack() as stack:
        scheduler_running = False
        for point in points:
            started = time.monotonic()
            assert_killed(sidecar.run(*args, kill_at=point), point)
            killed_after = time.monotonic() - started
            assert dump_tables(url, *tables) == before, f"killed at {point}: the tables are not as before"
            run_id = left_running(url, job)
            lock_seconds = wait_lock_free(url, lock_name(job, site_id), point)
            age_dead_run(url, run_id)
            started = time.monotonic()
            if not scheduler_running:
                stack.enter_context(sidecar.scheduler(**SCHEDULES_OFF))
                scheduler_running = True
            wait_interrupted(url, run_id, point)
            observed.append({"point": point, "killed_after_s": round(killed_after, 2),
                             "lock_free_s": round(lock_seconds, 2),
                             "judged_s": round(time.monotonic() - started, 2),
                             "progress_done": run_row(url, run_id)["progress_done"]})
            # the scheduler takes the lock a moment to look: the next run must not find it taken
            wait_lock_free(url, lock_name(job, site_id), point)
    return observed


def report(case: str, observed: list[dict], **figures) -> None:
    print(f"\n{case}: " + "; ".join(f"{k}={v}" for k, v in figures.items()))
    for row in observed:
        print("   " + ", ".join(f"{k}={v}" for k, v in row.items()))


def check_job(databases: tuple[str, str], args: tuple, job: str, site_id: int | None, points: list[str], tables: list[str],
              **env) -> tuple[str, list[dict], float]:
    """The whole case for a job: reference alongside, three kills, the rerun compared with the reference."""
    url, reference_url = databases
    before = dump_tables(url, *tables)
    first_new = next_keys(before)
    copy_database(url, reference_url)
    reference = Alongside(finished, Sidecar(reference_url, **env), *args)
    sidecar = Sidecar(url, **env)
    observed = kill_job(sidecar, args, job, site_id, points, tables, before)
    expected = reference.result()
    assert finished(sidecar, *args) == expected  # the same summary line
    assert comparable(url, tables, first_new) == comparable(reference_url, tables, first_new)
    return expected, observed, reference.seconds


# --- 1. the rollover of a 300-school site -----------------------------------------------------------------------


def test_rollover_of_300_schools(two_databases):
    seed_site(two_databases[0], schools=300, offerings_per_school=60)[0].dispose()
    args = ("jobs", "run", "rollover", "--site", str(SITE), "--date", f"{int(CURRENT[:4]) + 1}-08-01", "--early")
    tables = [f"wp_2_lop_{t}" for t in ("schools", "offerings", "free_places_snapshots", "audit_log")] + ["wp_2_options"]
    summary, observed, seconds = check_job(two_databases, args, "rollover", SITE, [
        "rollover.snapshot_taken",  # early: the outgoing year's snapshot written
        "rollover.year_moved",  # middle: the old year removed, the new next year copied
        "rollover.before_commit",  # the school-year option moved, log rows and the review request written
    ], tables)
    assert "300 schools, 18000 programmes now current" in summary
    report("rollover 300 schools x 60 programmes", observed, uninterrupted_s=round(seconds, 2))


# --- 2. the AgODi sync of 10,000 rows ---------------------------------------------------------------------------


def agodi_file(codes: range, *, changed: bool) -> bytes:
    """An AG file as bench/agodi.py makes it; ``changed``: every fourth description reworded."""
    lines = ["Administratieve groep\tOmschrijving\tOnderwijsniveau\tOnderwijsvorm\tGraad\tLeerjaar\tBegindatum\tEinddatum"]
    for code in codes:
        reworded = " (nieuw)" if changed and code % 4 == 0 else ""
        lines.append(f"{code}\tOpleiding {code} – studierichting {code % 97}{reworded}\tSO\t{VORMEN[code % 7]}\t"
                     f"{1 + code % 3}\t{1 + code % 7}\t2019-09-01\t")
    return ("\r\n".join(lines) + "\r\n").encode("cp1252")


@contextlib.contextmanager
def served_file(name: str, data: bytes):
    """AgODi's download page: a local HTTP server on a thread."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:  # http.server's name
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/{name}"
    finally:
        server.shutdown()
        server.server_close()


def network_only(url: str) -> Runtime:
    """A WordPress network without LOP sites, migrated (what the network jobs need)."""
    runtime = Runtime.from_config(Config(database_url=url))
    with runtime.engine.begin() as conn:
        install_network(conn, runtime.network)
    migrate(runtime.engine, runtime.network)
    runtime.engine.dispose()
    return runtime


def test_agodi_sync_of_10000_rows(two_databases, tmp_path):
    # stored: last week's file of 10,000 codes; this week's drops 500, adds 500 and rewords every fourth
    # description: 2,875 rows to write in upserts of 1,000, then 500 deactivations
    old = tmp_path / "20260601 AG.txt"
    old.write_bytes(agodi_file(range(10001, 20001), changed=False))
    runtime = network_only(two_databases[0])
    assert run_now(runtime, "agodi-sync", site_id=None, trigger="cli", options={"source": str(old)})["status"] == "succeeded"
    runtime.engine.dispose()
    with served_file("20260608%20AG.txt", agodi_file(range(10501, 20501), changed=True)) as source:
        summary, observed, seconds = check_job(two_databases, ("jobs", "run", "agodi-sync"), "agodi-sync", None, [
            "agodi.batch:1",  # early: the first 1,000 upserts written
            "agodi.batch:2",  # middle
            "agodi.before_commit",  # every upsert and deactivation written
        ], ["wp_lop_admgr"], LOP_AGODI_URL=source)
    assert summary == "10000 in file: 500 added, 2375 updated, 7125 unchanged, 500 no longer in file\n"
    report("agodi-sync 10,000 rows", observed, uninterrupted_s=round(seconds, 2))


# --- 3. the OV sync ---------------------------------------------------------------------------------------------

OV_SCHOOLS, OV_CODES = 100, 30


def ov_feed(schooljaar: int, filler: int, shift: int) -> list[dict]:
    """The site's 100 schools (instellingsnummer 100000 + n, as bench/_seed.py numbers them) with 30 codes each
    (``shift`` moves some: only OV, only LOP), then ``filler`` records of schools elsewhere, a fifth of them of
    the year before."""
    records = [offering(100000 + s, 1, 60000 + (c + s % 3 + shift) % 40, schooljaar, f"Opleiding {c}")
               for s in range(OV_SCHOOLS) for c in range(OV_CODES)]
    records += [offering(900000 + n // 30, 1, 60000 + n % 45, schooljaar if n % 5 else schooljaar - 1,
                         f"Opleiding {n % 45}") for n in range(filler)]
    return records


def test_ov_sync(two_databases):
    schooljaar = int(CURRENT[:4])
    fake = FakeOv.start()
    try:
        # stored by last night's sync: 14,000 records
        fake.offerings = ov_feed(schooljaar, 11000, shift=0)
        fake.catalogue = [catalogue_entry(60000 + c, 1 + c % 3, 1 + c % 6, VORMEN[c % 7] if c % 4 else None, schooljaar)
                          for c in range(45)]
        seed_site(two_databases[0], schools=OV_SCHOOLS, offerings_per_school=OV_CODES)[0].dispose()
        runtime = Runtime.from_config(Config(database_url=two_databases[0], ov_api_url=fake.url, ov_api_key=fake.key))
        assert run_now(runtime, "ov-sync", site_id=None, trigger="cli")["status"] == "succeeded"
        runtime.engine.dispose()
        # tonight: 16,000 records in 4 pages (the sidecar inserts them 5,000 at a time), some codes moved, five
        # codes new to the catalogue
        fake.offerings = ov_feed(schooljaar, 13000, shift=2)
        fake.catalogue += [catalogue_entry(60100 + c, 2, 3, "TSO", schooljaar) for c in range(5)]
        summary, observed, seconds = check_job(two_databases, ("jobs", "run", "ov-sync"), "ov-sync", None, [
            "ov.snapshot_chunk:1",  # early: catalogue enriched, old snapshot deleted, the first 5,000 rows in
            "ov.snapshot_chunk:2",  # middle
            "ov.before_commit",  # the whole new snapshot written
        ], ["wp_lop_ov_offerings", "wp_lop_admgr"], LOP_OV_API_URL=fake.url, LOP_OV_API_KEY=fake.key)
    finally:
        fake.stop()
    assert summary.startswith("16000 records in 4 pages; site 2: 100 schools compared")
    report("ov-sync 16,000 records", observed, uninterrupted_s=round(seconds, 2))


# --- 4. the school-admin import: an API call through lop-sidecar serve ------------------------------------------

IMPORT_TABLES = ["wp_users", "wp_usermeta", "wp_2_lop_school_admins", "wp_2_lop_audit_log", "wp_lop_mail_outbox"]


def import_workbook(rows: int) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = "Schoolbeheerders"
    sheet.append(["Instellingsnummer", "Schoolnaam", "E-mailadres"])
    for n in range(rows):  # half of them have an account already, half are new
        sheet.append([f"{100000 + n % 200:06d}", f"School {n % 200:03d}",
                      f"{'bestaand' if n % 2 else 'nieuw'}{n // 2}@school.example"])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def post_import(served, expert: int, data: bytes) -> requests.Response:
    boundary = "killboundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"schoolbeheerders.xlsx\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return served.call("POST", f"/api/v1/sites/{SITE}/imports/school-admins", user=expert, data=body, timeout=120,
                       headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})


def served_import(url: str, expert: int, data: bytes) -> requests.Response:
    with Sidecar(url).serve(workers=1, threads=1) as served:
        return post_import(served, expert, data)


def import_comparable(url: str, first_new: dict[str, int]) -> dict[str, list]:
    """``comparable`` with every user named by login rather than ID (new accounts get other IDs in a rerun) and
    the set-password keys (random) put aside where they are stored: the activation key and the mail bodies."""
    with connection(url) as conn:
        logins = dict(conn.execute(text("SELECT ID, user_login FROM wp_users")).all())

    def login(value, _row):
        return logins.get(value, value)

    def activation_key(value, _row):
        return re.sub(r"^\d+:\$generic\$\S+$", "<time>:$generic$<hash>", value)

    def reset_key(value, _row):
        return re.sub(r"key=[A-Za-z0-9]{20}&", "key=<key>&", value) if value else value

    def logged_user(value, row):
        return login(value, row) if row["entity"] == "school_admin" else value

    def logged_value(value, _row):
        data = json.loads(value) if value else None
        if isinstance(data, dict) and "user_id" in data:
            data["user_id"] = logins.get(data["user_id"], data["user_id"])
        return data

    return comparable(url, IMPORT_TABLES, first_new, **{
        "wp_users.ID": login, "wp_users.user_activation_key": activation_key,
        "wp_usermeta.user_id": login, "wp_2_lop_school_admins.user_id": login,
        "wp_2_lop_audit_log.entity_id": logged_user, "wp_2_lop_audit_log.new_value": logged_value,
        "wp_2_lop_audit_log.request_id": lambda _value, _row: "<request>",
        "wp_lop_mail_outbox.user_id": login, "wp_lop_mail_outbox.body_text": reset_key,
        "wp_lop_mail_outbox.body_html": reset_key,
    })


def test_school_admin_import_of_2000_rows(two_databases):
    url, reference_url = two_databases
    engine, network, info = seed_site(url, schools=200, offerings_per_school=1)
    with engine.begin() as conn:
        conn.execute(network.core.users.insert(), [
            {"user_login": f"bestaand{n}", "user_nicename": f"bestaand{n}", "user_email": f"bestaand{n}@school.example",
             "display_name": f"B {n}", "user_registered": dt.datetime(2025, 1, 1)} for n in range(1000)])
    engine.dispose()
    copy_database(url, reference_url)
    expert, data = info["expert"], import_workbook(2000)
    reference = Alongside(served_import, reference_url, expert, data)
    before = dump_tables(url, *IMPORT_TABLES)
    first_new = next_keys(before)
    observed = []
    # The fault point kills the worker that handles the request; gunicorn's master starts another one (one
    # worker is enough to show it, and spares the loaded machine the start of a second).
    stopping = []  # a served process stops while the next one starts (it waits for its new worker's boot)
    for point in ("import.accounts_created",  # early: 1,000 WordPress accounts inserted
                  "import.roles_granted",  # middle: the school-admin role granted to 2,000 users
                  "import.before_commit"):  # links, log rows and 1,000 invitations queued too
        stack = contextlib.ExitStack()
        served = stack.enter_context(Sidecar(url).serve(workers=1, threads=1, kill_at=point))
        try:
            mark = len(served.output.lines)
            started = time.monotonic()
            with pytest.raises(requests.ConnectionError):
                answer = post_import(served, expert, data)
                pytest.fail(f"{point}: the client got HTTP {answer.status_code} from a worker that died: {answer.text[:300]}")
            failed_after = time.monotonic() - started
            served.output.wait_for("was sent SIGKILL", start=mark)
            died = next(i for i, line in enumerate(served.output.lines) if i >= mark and "was sent SIGKILL" in line)
            served.output.wait_for("Booting worker", start=died + 1)  # the master replaced it
            assert dump_tables(url, *IMPORT_TABLES) == before, f"killed at {point}: the tables are not as before"
            lock_seconds = wait_lock_free(url, ACCOUNTS_LOCK, point)
            observed.append({"point": point, "client_error_after_s": round(failed_after, 2),
                             "lock_free_s": round(lock_seconds, 2)})
        finally:
            stopping.append(Alongside(stack.close))
    again = served_import(url, expert, data)
    for stop in stopping:
        stop.result()
    expected = reference.result()
    assert expected.status_code == 200, expected.text[:1000]
    assert (expected.json()["rows"], expected.json()["users_created"]) == (2000, 1000)
    assert again.status_code == 200, again.text[:1000]
    by_id = ("wordpress", "invalidate_user_cache")  # these name the new accounts by ID
    assert {k: v for k, v in again.json().items() if k not in by_id} == \
        {k: v for k, v in expected.json().items() if k not in by_id}
    assert import_comparable(url, first_new) == import_comparable(reference_url, first_new)
    report("school-admin import 2,000 rows", observed, uninterrupted_s=round(reference.seconds, 2))


# --- 5. log prune -----------------------------------------------------------------------------------------------

PRUNE_ROWS, PRUNE_OLD = 30000, 20000


def seed_log(url: str) -> None:
    """Site 2 with 30,000 log rows: 20,000 from before 1 June 2025 (to prune), 10,000 from 2026."""
    engine, network, _info = seed_site(url, schools=3, offerings_per_school=1)
    log = site_tables(network.prefix(SITE)).audit_log
    with engine.begin() as conn:
        for first in range(0, PRUNE_ROWS, 5000):
            conn.execute(log.insert(), [
                {"occurred_at": dt.datetime(2024, 6, 1) + dt.timedelta(minutes=i) if i < PRUNE_OLD
                 else dt.datetime(2026, 1, 1) + dt.timedelta(seconds=i),
                 "site_id": SITE, "user_id": 1, "user_login": "bench.expert", "user_role": "lop_expert", "source": "api",
                 "school_id": 1 + i % 3, "entity": "offering", "entity_id": i, "action": "update", "field": "free_places",
                 "old_value": str(i % 7), "new_value": str(i % 5),
                 "offering": json.dumps({"id": i, "admgr_code": 1011, "name": "Lager onderwijs - 1ste leerjaar",
                                         "school_year": "2024-2025"})}
                for i in range(first, min(first + 5000, PRUNE_ROWS))])
    engine.dispose()


def archive_text(path) -> str:
    try:
        return gzip.decompress(path.read_bytes()).decode("utf-8-sig")
    except EOFError:
        raise AssertionError(f"{path.name}: a partial archive under the archive's own name") from None


def test_log_prune(two_databases, tmp_path):
    url, reference_url = two_databases
    seed_log(url)
    copy_database(url, reference_url)
    tables = ["wp_2_lop_audit_log"]

    def prune(database: str, archive, **kwargs):
        return Sidecar(database).run("log", "prune", "--site", str(SITE), "--before", "2025-06-01",
                                     "--archive", str(archive), **kwargs)

    reference_archive = tmp_path / "reference.csv.gz"
    reference = Alongside(prune, reference_url, reference_archive)
    before = dump_tables(url, *tables)
    observed, partial = [], []
    archive = tmp_path / "archief.csv.gz"
    for point in ("log_prune.archive_chunk:5",  # early: 5,000 of the 20,000 rows written to the archive
                  "log_prune.archived",  # middle: the archive complete and synced, nothing deleted yet
                  "log_prune.before_commit"):  # every archived row deleted, not committed
        assert_killed(prune(url, archive, kill_at=point), point)
        assert dump_tables(url, *tables) == before, f"killed at {point}: the log is not as before"
        reference.result()
        if archive.exists():
            # an archive under its own name is a complete one: every row the reference archived
            assert archive_text(archive) == archive_text(reference_archive), f"{point}: not the reference's rows"
            observed.append({"point": point, "archive": "complete, kept"})
            archive = tmp_path / f"archief-{len(observed)}.csv.gz"  # the command never overwrites an archive
        else:
            partial = [p.name for p in tmp_path.glob("*.part")]
            observed.append({"point": point, "archive": f"none under its name; partial file left: {partial}"})
    expected = reference.result()
    assert expected.returncode == 0, expected.stderr
    assert f"archived {PRUNE_OLD} log rows" in expected.stdout and f"deleted {PRUNE_OLD}" in expected.stdout
    again = prune(url, archive)
    assert again.returncode == 0, again.stderr
    assert again.stdout.replace(str(archive), "A") == expected.stdout.replace(str(reference_archive), "A")
    assert dump_tables(url, *tables) == dump_tables(reference_url, *tables)
    assert archive_text(archive) == archive_text(reference_archive)
    assert [p.name for p in tmp_path.glob("*.part")] == partial  # only the dead process's, never a finished run's
    report("log prune 20,000 of 30,000 rows", observed, uninterrupted_s=round(reference.seconds, 2))


# --- the scheduler's own clock ----------------------------------------------------------------------------------


def test_a_run_left_running_is_judged_on_the_real_clock(unaided_dead_run):
    url, run_id = unaided_dead_run
    wait_lock_free(url, lock_name("agodi-sync", None), "unaided")
    started = time.monotonic()
    with Sidecar(url).scheduler(**SCHEDULES_OFF) as (_process, output):
        wait_interrupted(url, run_id, "unaided")
        output.wait_for(f"run {run_id} was left running by a process that is gone")
    row = run_row(url, run_id)
    age = (row["finished_at"] - row["started_at"]).total_seconds()
    assert age >= 30  # never judged younger: the rule for live runs
    print(f"\nunaided: judged {time.monotonic() - started:.2f} s after the scheduler started, at {age:.1f} s old")
