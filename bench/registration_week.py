"""Registration week (issue 18, "Load"): a real ``lop-sidecar serve`` on MariaDB (``--workers 2 --threads 4``, as
the README deploys it) under the load of the weeks in which parents look up free places and schools keep their
numbers up to date, all at once, on one site of 200 schools x 40 programmes:

- ``--clients`` (200) parents' clients on the public free-places table, signed as the site itself, each on a
  keep-alive connection of its own, one request every ``--client-think`` seconds on average (1 s: about
  200 requests/s offered — far more than the plugin, which revalidates at most every 30 s, would send). A share
  ``--conditional`` (90%) carries ``If-None-Match`` with the newest ETag any client received (the WordPress
  front-ends of a site share the plugin's cached table), so 304 unless the table changed since; the rest asks
  without it (a cold cache);
- ``--admins`` (20) school admins, each on their own school, as the plugin's "Mijn school" screen works: read
  the school's offerings (current or next year), think ``--admin-think`` seconds, save the free places of one
  programme with the row's ``etag`` as ``If-Match``, think again, ... (about 2 PATCHes/s in all);
- the LOP expert downloading the site's whole log (100,000 rows, CSV) every ``--export-every`` seconds;
- ``lop-sidecar jobs run ov-sync`` against a local fake Onderwijs Vlaanderen API (42,000 offering records in
  9 pages of 5,000, a catalogue of 3,000 groups), after 10 s and then every ``--ov-every`` seconds;
- steady state: the request nonces of the last 16 minutes are stored before the run, so the API's own
  pruning (every 60 s per worker) deletes a minute of them at a time during the load, as in production.

Checked (the 60-second version is tests/faults/test_registration_week.py): no request fails (public 200/304,
list and PATCH 200, every export whole), so no deadlock or lock-wait timeout reaches a client (the service
does not retry them: they would answer 503 ``database_unavailable``); every PATCH that answered 200 is in the
database (value and version) and in the log exactly once (by its X-Request-ID), and no other PATCH left a
trace; the public table after the load equals the database, whichever worker answers; every OV sync finishes
and its snapshot is stored.

Reported, never asserted in CI: PATCH and 304 latency (p50, p99) as ratios to the same requests on the same
server while it is idle, measured first in the same run (target: p99 within 5x); the gunicorn workers' RSS from
/proc (target: growth < 10% after warm-up, the first tenth of the load, at least 30 s); CPU seconds of the
server workers, MariaDB, the load generator, the OV sync and the whole machine; MariaDB's deadlock and row
lock wait counters (server-wide).

The load generator is two processes of its own (threads, one keep-alive connection per client; signing costs
microseconds and no body is parsed but the admins' lists): the parents' clients in one, the school admins and
the expert in the other. Both share the two cores with the server and MariaDB; the report says how much each
used.

    python -m bench.registration_week [--minutes 30] [--workers 2] [--threads 4] [--clients 200] [--admins 20]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import http.client
import json
import multiprocessing
import os
import random
import re
import resource
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from queue import Empty
from urllib.parse import parse_qs, urlparse

import requests
from sqlalchemy import create_engine, func, text
from sqlalchemy import select as sql_select
from sqlalchemy.engine import make_url

from bench._common import SECRET, free_port, fresh_mysql_database, percentile

SITE = 2
OV_KEY = "bench-ov-key"
OV_PAGE_SIZE = 5000
# Reuse a keep-alive connection only when it was idle for less than this: gunicorn closes idle ones after 2 s
# (counted from when it sent the answer, which a busy client reads later).
KEEPALIVE_REUSE_SECONDS = 1.0


@dataclass
class Profile:
    seconds: float = 60
    workers: int = 2  # README, "Deploying": --workers 2 --threads 4, about one worker per core
    threads: int = 4
    clients: int = 200
    conditional: float = 0.9
    client_think: float = 1.0  # mean seconds between a parent client's requests (exponential)
    admins: int = 20
    admin_think: float = 5.0  # mean seconds a school admin spends before saving, and after (exponential)
    schools: int = 200
    offerings_per_school: int = 40
    log_rows: int = 100_000
    ov_records: int = 42_000
    ov_catalogue: int = 3_000
    ov_every: float = 150.0
    export_every: float = 120.0
    idle_requests: int = 100  # per kind, for the idle baseline
    rss_every: float = 2.0


# --- the data --------------------------------------------------------------------------------------------


@dataclass
class World:
    expert: int
    admins: list[tuple[int, int]]  # (user id, their school)
    current: str
    next: str
    codes: list[int]
    seeded_log_rows: int


def seed(url: str, profile: Profile) -> World:
    """Site 2 (bench/_seed.py) with the profile's schools and offerings, ``admins`` school admins each linked
    to a school of their own, rights for school admins to edit every number in every period, and
    ``log_rows`` log rows (bulk inserts)."""
    from bench._seed import seed_site
    from bench.log import fill
    from rules.rights import ALL_PERMISSIONS, PERIODS, RIGHTS_TYPES, RightsSettings
    from service.demo import _add_user
    from wp_bridge.audit import Actor
    from wp_bridge.db import utcnow
    from wp_bridge.settings import save_settings
    from wp_bridge.tables import site_tables

    engine, network, info = seed_site(url, profile.schools, profile.offerings_per_school)
    t = site_tables(network.prefix(SITE))
    try:
        with engine.begin() as conn:
            admins = [(info["admin"], 1)]
            for n in range(2, profile.admins + 1):
                user = _add_user(conn, network, f"bench.admin{n}", f"Directie {n}", {SITE: "schoolbeheerder"})
                conn.execute(t.school_admins.insert().values(school_id=n, user_id=user, created_at=utcnow()))
                admins.append((user, n))
            everything = RightsSettings(rights={k: {p: ALL_PERMISSIONS for p in PERIODS} for k in RIGHTS_TYPES})
            save_settings(conn, network.prefix(SITE), SITE, Actor(info["expert"], "bench.expert", "lop_expert", "cli"),
                          everything)
            codes = sorted({c for (c,) in conn.execute(sql_select(t.offerings.c.admgr_code).distinct())})
        fill(engine, profile.log_rows)
        _nonce_history(engine, profile)
        with engine.connect() as conn:
            logged = conn.execute(sql_select(func.count()).select_from(t.audit_log)).scalar_one()
    finally:
        engine.dispose()
    return World(info["expert"], admins, info["current"], info["next"], codes, logged)


def _nonce_history(engine, profile: Profile) -> None:
    """The request nonces of the last 16 minutes at the profile's request rate, as after a day of registration
    week: the API keeps them 15 minutes and each worker prunes every 60 s (service/auth.py), so the pruning
    deletes a minute of them at a time during the load, as it does in production."""
    from wp_bridge.tables import network_tables

    nonces = network_tables("wp_").request_nonces
    now = int(time.time())
    per_second = max(1, round(profile.clients / max(profile.client_think, 0.01)))
    with engine.begin() as conn:
        for start in range(0, 960 * per_second, 20000):
            conn.execute(nonces.insert(), [{"nonce": f"history-{n:012d}", "seen_at": now - 960 + n // per_second}
                                           for n in range(start, min(960 * per_second, start + 20000))])


def ov_feed(world: World, profile: Profile) -> tuple[list[dict], list[dict]]:
    """A feed shaped as Onderwijs Vlaanderen's: the site's schools (instellingsnummer 100000 + n, vestiging 1,
    bench/_seed.py) with most of their programmes and a few the site lacks, in the current and next school
    year, then other schools of Flanders up to ``ov_records``; and a catalogue of ``ov_catalogue`` groups,
    graad and onderwijsvorm missing on some, as in the real one."""
    years = (int(world.current[:4]), int(world.next[:4]))
    records = []

    def record(inst, code, year):
        return {"instelling_nummer": inst, "instellingslocatie_vestigingsnummer": 1, "administratievegroep_code": code,
                "administratievegroep_omschrijving": f"Opleiding {code}", "schooljaar": year, "inschrijvingen": True,
                "financierbaar": True, "begindatum": "2019-09-01", "einddatum": None}

    for s in range(profile.schools):
        for year in years:
            records += [record(100000 + s, code, year) for n, code in enumerate(world.codes) if (n + s) % 9 != 0]
            records.append(record(100000 + s, 70000 + s % 50, year))
    other = 0
    while len(records) < profile.ov_records:
        records.append(record(300000 + other // 60, 70000 + other % 400, years[other % 2]))
        other += 1
    catalogue = []
    for n in range(profile.ov_catalogue):
        code = world.codes[n] if n < len(world.codes) else 70000 + n
        missing = n % 11 == 0
        catalogue.append({
            "administratievegroep_code": code,
            "administratievegroep_graad": None if missing else {"code": str(1 + n % 3), "omschrijving": "graad"},
            "administratievegroep_leerjaar": {"code": str(1 + n % 6)},
            "administratievegroep_onderwijsvorm": None if missing else {"code": ["ASO", "TSO", "BSO", "KSO"][n % 4]},
            "administratievegroep_finaliteit": {"code": "D"},
            "administratievegroep_domein": {"code": "X", "omschrijving": "STEM"},
            "structuuronderdeel_nummer": 4000 + n, "schooljaar": years[0]})
    return records[:profile.ov_records], catalogue


class FakeOv:
    """Onderwijs Vlaanderen's two listings, paged as the real API pages them (``page`` from 1, ``size``), the
    pages encoded once; checks the API key."""

    def __init__(self, offerings: list[dict], catalogue: list[dict]):
        from jobs.ov_client import CATALOGUE_PATH, OFFERING_PATH

        self.listings = {OFFERING_PATH: offerings, CATALOGUE_PATH: catalogue}
        self.pages: dict[tuple[str, int, int], bytes] = {}
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                url = urlparse(self.path)
                query = parse_qs(url.query)
                body = fake.page(url.path, int(query.get("page", ["1"])[0]), int(query.get("size", ["20"])[0]))
                status = 200 if body is not None else 404
                if self.headers.get("x-api-key") != OV_KEY:
                    status, body = 401, None
                body = body or b'{"message": "not found"}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def page(self, path: str, number: int, size: int) -> bytes | None:
        records = self.listings.get(path)
        if records is None:
            return None
        key = (path, number, size)
        if key not in self.pages:
            total_pages = max(1, -(-len(records) // size))
            content = records[(number - 1) * size:number * size]
            self.pages[key] = json.dumps({"meta": {"total_elements": len(records), "total_pages": total_pages,
                                                   "number": number, "last": number >= total_pages},
                                          "content": content}).encode()
        return self.pages[key]

    def __enter__(self):
        for path, records in self.listings.items():  # encode before the load starts
            for number in range(1, max(1, -(-len(records) // OV_PAGE_SIZE)) + 1):
                self.page(path, number, OV_PAGE_SIZE)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


# --- the server ------------------------------------------------------------------------------------------


@contextlib.contextmanager
def serve(env: dict, profile: Profile, log_path: str):
    """``lop-sidecar serve`` as the README deploys it, its log in ``log_path``; yields (base URL, master pid)."""
    port = free_port()
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "service.cli", "serve", "--bind", f"127.0.0.1:{port}", "--workers",
             str(profile.workers), "--threads", str(profile.threads)],
            env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not _answers(base):
            if time.monotonic() > deadline or process.poll() is not None:
                with open(log_path) as log_:
                    raise RuntimeError("lop-sidecar serve did not start; its log:\n" + log_.read()[-3000:])
            time.sleep(0.1)
        yield base, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _answers(base: str) -> bool:
    try:
        return requests.get(f"{base}/api/v1/health", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def worker_pids(master: int) -> list[int]:
    try:
        with open(f"/proc/{master}/task/{master}/children") as f:
            return sorted(int(p) for p in f.read().split())
    except OSError:
        return []


def proc_status(pid: int, key: str) -> int | None:
    """A value of /proc/<pid>/status in kB (VmRSS, VmHWM), None when the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent on anything but idling since boot (/proc/stat)."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    return (sum(values) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")


def mariadb_pid(port: int) -> int | None:
    """The MariaDB server answering on ``port`` (its command line names that port, or none: the default)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read().decode(errors="replace").split("\0")
        except OSError:
            continue
        if argv and os.path.basename(argv[0]) in ("mariadbd", "mysqld"):
            ports = [a.split("=", 1)[1] for a in argv if a.startswith("--port=")]
            if ports == [str(port)] or (not ports and port == 3306):
                return int(entry)
    return None


def cpu_seconds(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return 0.0


# --- the clients ------------------------------------------------------------------------------------------


class Client:
    """One client's keep-alive HTTP/1.1 connection, as a browser or curl keeps one: a fresh one when the server
    may have closed it (idle for KEEPALIVE_REUSE_SECONDS, or readable: closed). When the server closes a reused
    connection just as a request goes out (its keep-alive timeout racing the request: the request is reset
    before any answer), the request is sent once more on a fresh connection, as curl and browsers do, and
    counted in ``retries``; a failure after the answer began is never retried."""

    def __init__(self, base: str, timeout: float = 120):
        host, port = base.removeprefix("http://").split(":")
        self.host, self.port, self.timeout = host, int(port), timeout
        self.conn: http.client.HTTPConnection | None = None
        self.last_used = 0.0
        self.retries = 0

    def _connection(self) -> tuple[http.client.HTTPConnection, bool]:
        """The connection to send on, and whether it is a reused one."""
        if self.conn is not None and time.perf_counter() - self.last_used < KEEPALIVE_REUSE_SECONDS:
            sock = self.conn.sock
            if sock is not None and not _readable(sock):
                return self.conn, True
        self.close()
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        return self.conn, False

    def request(self, method: str, path: str, *, user: int, body: bytes = b"", headers: dict | None = None,
                sink=None) -> tuple[int, http.client.HTTPResponse, bytes]:
        """A signed request; the response body read whole, or passed chunk by chunk to ``sink``."""
        from service.signing import sign_headers

        all_headers = {**sign_headers(SECRET, method, path, user=user, body=body), **(headers or {})}
        if body:
            all_headers["Content-Type"] = "application/json"
        while True:
            conn, reused = self._connection()
            try:
                conn.request(method, path, body=body or None, headers=all_headers)
                response = conn.getresponse()
            except (ConnectionResetError, BrokenPipeError, ConnectionAbortedError):  # RemoteDisconnected too
                self.close()
                if not reused:
                    raise
                self.retries += 1
                continue
            except BaseException:
                self.close()
                raise
            break
        try:
            if sink is None:
                data = response.read()
            else:
                data = b""
                while chunk := response.read(65536):
                    sink(chunk)
        except BaseException:
            self.close()
            raise
        if response.will_close:
            self.close()
        self.last_used = time.perf_counter()
        return response.status, response, data

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def _readable(sock: socket.socket) -> bool:
    """Whether an idle keep-alive connection has something to read: the server closed it. (poll, not select:
    no limit on descriptor numbers; not recv: a socket with a timeout waits before it reads.)"""
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


def _failure(kind: str, status, body: bytes | str, response=None) -> dict:
    text_ = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    return {"kind": kind, "status": status, "body": text_[:300],
            "request_id": response.getheader("X-Request-ID") if response is not None else None}


def _think(rng: random.Random, mean: float, stop_at: float) -> None:
    """A person's pause (exponential around ``mean``), cut off at the end of the run. Not synchronisation."""
    if mean > 0:
        time.sleep(max(0.0, min(rng.expovariate(1 / mean), stop_at - time.perf_counter())))


def public_clients(base: str, profile: Profile, seconds: float, go, queue, clients: int | None = None,
                   think: float | None = None) -> None:
    """The parents' clients (a process of their own): (started at, latency, status, conditional) per request.
    They share the newest ETag any of them received, as the WordPress front-ends of a site share the plugin's
    cached table and its ETag (class-lop-sidecar-public.php): a conditional request is 304 unless the table
    changed since the last 200 any of them got."""
    clients = profile.clients if clients is None else clients
    think = profile.client_think if think is None else think
    path = f"/api/v1/sites/{SITE}/free-places?year=current"
    results: list[tuple] = []
    failures: list[dict] = []
    lock = threading.Lock()
    started = threading.Event()
    timing: dict = {}
    newest = {"etag": None}
    retries = [0]

    def client(n: int):
        rng = random.Random(n)
        http_ = Client(base)
        mine, failed = [], []
        started.wait()
        stop_at = timing["stop_at"]
        _think(rng, think, stop_at)  # the clients' first requests spread out
        while time.perf_counter() < stop_at:
            etag = newest["etag"]
            conditional = etag is not None and rng.random() < profile.conditional
            headers = {"If-None-Match": etag} if conditional else {}
            t0 = time.perf_counter()
            try:
                status, response, body = http_.request("GET", path, user=0, headers=headers)
            except (OSError, http.client.HTTPException) as exc:
                failed.append(_failure("public", None, f"{type(exc).__name__}: {exc}"))
                continue
            latency = time.perf_counter() - t0
            mine.append((t0 - timing["t0"], latency, status, conditional))
            if status == 200:
                newest["etag"] = response.getheader("ETag")
                if not body.startswith(b'{"site_id"'):
                    failed.append(_failure("public", status, body[:100], response))
            elif status != 304:
                failed.append(_failure("public", status, body, response))
            _think(rng, think, stop_at)
        http_.close()
        with lock:
            results.extend(mine)
            failures.extend(failed)
            retries[0] += http_.retries

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    go.wait()
    timing["t0"] = time.perf_counter()
    timing["stop_at"] = timing["t0"] + seconds
    started.set()
    for thread in threads:
        thread.join()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    queue.put({"public": results, "failures": failures, "cpu": usage.ru_utime + usage.ru_stime, "retries": retries[0]})


def staff_clients(base: str, profile: Profile, world: World, seconds: float, go, queue, admins: int | None = None,
                  think: float | None = None, export: bool = True) -> None:
    """The school admins and the LOP expert (a process of their own)."""
    admins_ = world.admins[:profile.admins if admins is None else admins]
    think = profile.admin_think if think is None else think
    patches: list[dict] = []
    lists: list[tuple] = []
    exports: list[dict] = []
    failures: list[dict] = []
    retries = [0]
    lock = threading.Lock()
    started = threading.Event()
    timing: dict = {}

    def admin(user: int, school: int):
        rng = random.Random(user)
        http_ = Client(base)
        mine, listed, failed = [], [], []
        started.wait()
        stop_at = timing["stop_at"]
        _think(rng, think, stop_at)
        while time.perf_counter() < stop_at:
            year = rng.choice(("current", "next"))
            path = f"/api/v1/sites/{SITE}/schools/{school}/offerings?year={year}"
            t0 = time.perf_counter()
            try:
                status, response, body = http_.request("GET", path, user=user)
            except (OSError, http.client.HTTPException) as exc:
                failed.append(_failure("list", None, f"{type(exc).__name__}: {exc}"))
                continue
            listed.append((t0 - timing["t0"], time.perf_counter() - t0, status))
            if status != 200:
                failed.append(_failure("list", status, body, response))
                continue
            offerings = [o for o in json.loads(body)["offerings"] if "free_places" in o["editable"]]
            if not offerings:
                failed.append(_failure("list", status, "no offering with free_places editable"))
                break
            offering = rng.choice(offerings)
            _think(rng, think, stop_at)
            value = (offering["free_places"] or 0) % 97 + 1 + rng.randrange(50)
            request_id = uuid.uuid4().hex
            patch = f"/api/v1/sites/{SITE}/schools/{school}/offerings/{offering['id']}"
            record = {"request_id": request_id, "offering": offering["id"], "value": value,
                      "version": offering["version"], "at": time.perf_counter() - timing["t0"]}
            t0 = time.perf_counter()
            try:
                status, response, body = http_.request(
                    "PATCH", patch, user=user, body=json.dumps({"free_places": value}).encode(),
                    headers={"If-Match": offering["etag"], "X-Request-ID": request_id})
            except (OSError, http.client.HTTPException) as exc:
                # No answer: the PATCH may or may not have been applied; the check counts it as unknown.
                record.update(status=None, latency=time.perf_counter() - t0)
                mine.append(record)
                failed.append(_failure("patch", None, f"{type(exc).__name__}: {exc}"))
                continue
            record.update(status=status, latency=time.perf_counter() - t0)
            mine.append(record)
            if status != 200:
                failed.append(_failure("patch", status, body, response))
            _think(rng, think, stop_at)
        http_.close()
        with lock:
            patches.extend(mine)
            lists.extend(listed)
            failures.extend(failed)
            retries[0] += http_.retries

    def expert():
        http_ = Client(base, timeout=300)
        started.wait()
        stop_at = timing["stop_at"]
        next_at = time.perf_counter() + min(5.0, seconds / 10)
        while True:
            time.sleep(max(0.0, min(next_at, stop_at) - time.perf_counter()))
            if time.perf_counter() >= stop_at:
                break
            seen = {"lines": 0, "tail": b""}

            def sink(chunk: bytes, seen=seen):
                seen["lines"] += chunk.count(b"\n")
                seen["tail"] = chunk[-200:]

            path = f"/api/v1/sites/{SITE}/log/export?format=csv"
            t0 = time.perf_counter()
            try:
                status, response, _ = http_.request("GET", path, user=world.expert, sink=sink)
            except (OSError, http.client.HTTPException) as exc:
                failures.append(_failure("export", None, f"{type(exc).__name__}: {exc}"))
            else:
                exports.append({"at": t0 - timing["t0"], "seconds": time.perf_counter() - t0, "status": status,
                                "lines": seen["lines"], "ends_with_newline": seen["tail"].endswith(b"\r\n")})
                if status != 200:
                    failures.append(_failure("export", status, seen["tail"], response))
            next_at = t0 + profile.export_every
        http_.close()
        with lock:
            retries[0] += http_.retries

    threads = [threading.Thread(target=admin, args=pair, daemon=True) for pair in admins_]
    if export:
        threads.append(threading.Thread(target=expert, daemon=True))
    for thread in threads:
        thread.start()
    go.wait()
    timing["t0"] = time.perf_counter()
    timing["stop_at"] = timing["t0"] + seconds
    started.set()
    for thread in threads:
        thread.join()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    queue.put({"patches": patches, "lists": lists, "exports": exports, "failures": failures,
               "cpu": usage.ru_utime + usage.ru_stime, "retries": retries[0]})


def _in_processes(*targets) -> list[dict]:
    """Run client functions each in a process of its own, started together; their results in order."""
    context = multiprocessing.get_context("spawn")
    go = context.Event()
    queues, processes = [], []
    for target, args in targets:
        queue = context.Queue()
        process = context.Process(target=target, args=(*args, go, queue), daemon=True)
        process.start()
        queues.append(queue)
        processes.append(process)
    go.set()
    results = []
    for queue, process in zip(queues, processes):
        while True:  # a client process that dies must fail the run, not hang it
            try:
                results.append(queue.get(timeout=1))
                break
            except Empty:
                if not process.is_alive():
                    raise RuntimeError(f"a client process ended with exit code {process.exitcode}") from None
    for process in processes:
        process.join()
    return results


# --- the run ----------------------------------------------------------------------------------------------


@dataclass
class Result:
    profile: Profile
    world: World
    seed_seconds: float = 0.0
    idle_304: list[float] = field(default_factory=list)
    idle_patch: list[float] = field(default_factory=list)
    public: list[tuple] = field(default_factory=list)
    patches: list[dict] = field(default_factory=list)
    lists: list[tuple] = field(default_factory=list)
    exports: list[dict] = field(default_factory=list)
    failures: list[dict] = field(default_factory=list)
    ov_runs: list[dict] = field(default_factory=list)
    rss: dict[int, list[tuple[float, int]]] = field(default_factory=dict)  # worker pid -> (seconds, kB)
    cpu: dict[str, float] = field(default_factory=dict)
    server_log: dict = field(default_factory=dict)
    innodb: dict = field(default_factory=dict)
    check: dict = field(default_factory=dict)
    load_seconds: float = 0.0
    keepalive_retries: int = 0  # requests sent again after the server closed their idle connection (Client)
    final_tables: list[tuple[str, dict]] = field(default_factory=list)  # (ETag, table) after the load


def _innodb_counters(url: str) -> dict:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SHOW GLOBAL STATUS WHERE Variable_name IN "
                                     "('Innodb_deadlocks', 'Innodb_row_lock_waits', 'Innodb_row_lock_time_max')")).all()
            return {name: int(value) for name, value in rows}
    finally:
        engine.dispose()


def _ov_sync_loop(env: dict, result: Result, stop: threading.Event, first_at: float, every: float, t0: float) -> None:
    """``lop-sidecar jobs run ov-sync`` now and then while the load runs (each to its end, however long)."""
    if stop.wait(first_at):
        return
    while True:
        started = time.perf_counter()
        with tempfile.TemporaryFile("w+") as output:
            process = subprocess.Popen([sys.executable, "-m", "service.cli", "jobs", "run", "ov-sync"],
                                       env={**os.environ, **env}, stdout=output, stderr=subprocess.STDOUT, text=True)
            _, status, usage = os.wait4(process.pid, 0)  # this child's own CPU time
            process.returncode = os.waitstatus_to_exitcode(status)
            output.seek(0)
            text_ = output.read()
        result.ov_runs.append({"at": started - t0, "returncode": process.returncode,
                               "seconds": time.perf_counter() - started,
                               "output": text_.strip()[-600:], "cpu": usage.ru_utime + usage.ru_stime})
        if stop.wait(max(0.0, started + every - time.perf_counter())):
            return


def _sample_rss(master: int, result: Result, stop: threading.Event, every: float, t0: float) -> None:
    while True:
        for pid in worker_pids(master):
            rss = proc_status(pid, "VmRSS")
            if rss is not None:
                result.rss.setdefault(pid, []).append((time.perf_counter() - t0, rss))
        if stop.wait(every):
            return


def run(url: str, profile: Profile, say=print, keep_log: str | None = None) -> Result:
    """Seed ``url`` (an empty database), serve it, measure the idle baseline, then run the load; checks the
    data afterwards (``Result.check``). ``keep_log``: where to copy the server's log."""
    started = time.perf_counter()
    world = seed(url, profile)
    result = Result(profile, world, seed_seconds=time.perf_counter() - started)
    say(f"seeded in {result.seed_seconds:.1f} s: {profile.schools} schools x {profile.offerings_per_school} "
        f"programmes x 2 years, {world.seeded_log_rows} log rows, {len(world.admins)} school admins")
    offerings, catalogue = ov_feed(world, profile)
    with tempfile.TemporaryDirectory(prefix="lop-registration-week-") as tmp, FakeOv(offerings, catalogue) as ov:
        env = {"LOP_DATABASE_URL": url, "LOP_SHARED_SECRET": SECRET, "LOP_OV_API_URL": ov.url, "LOP_OV_API_KEY": OV_KEY}
        log_path = os.path.join(tmp, "serve.log")
        with serve(env, profile, log_path) as (base, master):
            say(f"serving at {base}: --workers {profile.workers} --threads {profile.threads}, workers {worker_pids(master)}")
            _idle_baseline(base, profile, world, result)
            say(f"idle: 304 p50 {percentile(result.idle_304, 50) * 1000:.1f} ms, "
                f"PATCH p50 {percentile(result.idle_patch, 50) * 1000:.1f} ms")
            _load(url, env, base, master, profile, world, result, say)
            result.final_tables = _final_tables(base, 4 * profile.workers)
        result.server_log = scan_server_log(log_path, profile.workers)
        if keep_log:
            shutil.copyfile(log_path, keep_log)
    result.check = check(url, result)
    return result


def _final_tables(base: str, n: int) -> list[tuple[str, dict]]:
    """The public table after the load, asked ``n`` times on fresh connections (so from every worker)."""
    from service.signing import sign_headers

    path = f"/api/v1/sites/{SITE}/free-places?year=current"
    tables = []
    for _ in range(n):
        response = requests.get(base + path, timeout=60,
                                headers={**sign_headers(SECRET, "GET", path, user=0), "Connection": "close"})
        tables.append((response.headers.get("ETag", ""), response.json() if response.status_code == 200 else {}))
    return tables


def _idle_baseline(base: str, profile: Profile, world: World, result: Result) -> None:
    """The same requests on the idle server, one at a time from the same kind of client process on one
    keep-alive connection: 20 of each to warm up, then ``idle_requests`` conditional GETs (304) and PATCHes."""
    path = f"/api/v1/sites/{SITE}/free-places?year=current"
    warm = _in_processes((_idle_client, (base, path, world, profile.idle_requests)))[0]
    result.idle_304 = warm["304"]
    result.idle_patch = [p["latency"] for p in warm["patches"] if not p.get("warmup")]
    result.patches.extend(warm["patches"])
    result.failures.extend(warm["failures"])


def _idle_client(base: str, path: str, world: World, n: int, go, queue) -> None:
    go.wait()
    client = Client(base)
    failures, latencies, patches = [], [], []
    status, response, body = client.request("GET", path, user=0)
    if status != 200:
        failures.append(_failure("idle-table", status, body[:200], response))
    etag = response.getheader("ETag")
    user, school = world.admins[0]
    for i in range(20 + n):  # the first 20 of each: warm-up
        t0 = time.perf_counter()
        status, response, body = client.request("GET", path, user=0, headers={"If-None-Match": etag})
        if status != 304:
            failures.append(_failure("idle-304", status, body[:200], response))
        elif i >= 20:
            latencies.append(time.perf_counter() - t0)
    for i in range(20 + n):
        status, response, body = client.request("GET", f"/api/v1/sites/{SITE}/schools/{school}/offerings?year=current",
                                                user=user)
        offering = json.loads(body)["offerings"][i % 10]
        request_id = uuid.uuid4().hex
        value = (offering["free_places"] or 0) % 97 + 1
        t0 = time.perf_counter()
        status, response, body = client.request(
            "PATCH", f"/api/v1/sites/{SITE}/schools/{school}/offerings/{offering['id']}", user=user,
            body=json.dumps({"free_places": value}).encode(),
            headers={"If-Match": offering["etag"], "X-Request-ID": request_id})
        latency = time.perf_counter() - t0
        if status != 200:
            failures.append(_failure("idle-patch", status, body, response))
        record = {"request_id": request_id, "offering": offering["id"], "value": value, "version": offering["version"],
                  "status": status, "latency": latency, "at": -1.0}
        patches.append(record)
        if i < 20:
            record["warmup"] = True
    client.close()
    queue.put({"304": latencies, "patches": patches, "failures": failures})


def _load(url, env, base, master, profile, world, result, say) -> None:
    innodb_before = _innodb_counters(url)
    pids = worker_pids(master)
    cpu_before = {pid: cpu_seconds(pid) for pid in pids}
    database = mariadb_pid(make_url(url).port or 3306)
    database_before, busy_before = cpu_seconds(database) if database else 0.0, machine_busy_seconds()
    stop = threading.Event()
    t0 = time.perf_counter()
    samplers = [threading.Thread(target=_sample_rss, args=(master, result, stop, profile.rss_every, t0), daemon=True),
                threading.Thread(target=_ov_sync_loop, args=(env, result, stop, min(10.0, profile.seconds / 6),
                                                            profile.ov_every, t0), daemon=True)]
    for thread in samplers:
        thread.start()
    say(f"load: {profile.clients} public clients, {profile.admins} school admins, the expert's log export and "
        f"ov-sync for {profile.seconds:.0f} s")
    public, staff = _in_processes((public_clients, (base, profile, profile.seconds)),
                                  (staff_clients, (base, profile, world, profile.seconds)))
    result.load_seconds = time.perf_counter() - t0
    stop.set()
    samplers[1].join()  # the OV sync in flight runs to its end
    samplers[0].join()
    result.cpu = {"server workers": sum(cpu_seconds(pid) - cpu_before.get(pid, 0.0) for pid in worker_pids(master)),
                  "public clients": public["cpu"], "staff clients": staff["cpu"],
                  "ov-sync": sum(r["cpu"] for r in result.ov_runs),
                  "MariaDB (whole server)": cpu_seconds(database) - database_before if database else float("nan")}
    result.cpu["machine, everything"] = machine_busy_seconds() - busy_before
    result.public = public["public"]
    result.patches.extend(staff["patches"])
    result.lists = staff["lists"]
    result.exports = staff["exports"]
    result.failures += public["failures"] + staff["failures"]
    result.keepalive_retries = public["retries"] + staff["retries"]
    innodb_after = _innodb_counters(url)
    result.innodb = {name: innodb_after[name] - innodb_before.get(name, 0) if name != "Innodb_row_lock_time_max"
                     else innodb_after[name] for name in innodb_after}
    if worker_pids(master) != pids:
        result.failures.append(_failure("server", None, f"gunicorn workers changed: {pids} -> {worker_pids(master)}"))


def scan_server_log(path: str, workers: int) -> dict:
    """What the server's log says went wrong: unhandled errors, 503s, worker restarts, tracebacks."""
    counts = Counter()
    samples = []
    statuses = Counter()
    access = re.compile(r"lop_sidecar\.access \S+ \S+ (\d{3}) ")
    with open(path, errors="replace") as log:
        for line in log:
            match = access.search(line)
            if match:
                statuses[match.group(1)] += 1
                continue
            for needle in ("unhandled", "database unavailable", "WORKER TIMEOUT", "Booting worker", "Traceback",
                           "deadlock", "retried"):
                if needle.lower() in line.lower():
                    counts[needle] += 1
                    if needle != "Booting worker" and len(samples) < 10:
                        samples.append(line.strip()[:300])
    return {"statuses": dict(statuses), "counts": dict(counts), "samples": samples,
            "worker_restarts": max(0, counts["Booting worker"] - workers)}


def check(url: str, result: Result) -> dict:
    """Every PATCH that answered 200 is in the database and in the log exactly once; nothing else is."""
    from rules.offerings import AN_ADMGR
    from wp_bridge.tables import network_tables, site_tables

    t = site_tables(f"wp_{SITE}_")
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            ids = [p["request_id"] for p in result.patches]
            logged: Counter = Counter()
            logged_values: dict[str, tuple] = {}
            for start in range(0, len(ids), 1000):
                for request_id, entity_id, field_, new_value in conn.execute(
                        sql_select(t.audit_log.c.request_id, t.audit_log.c.entity_id, t.audit_log.c.field,
                                   t.audit_log.c.new_value).where(t.audit_log.c.request_id.in_(ids[start:start + 1000]))):
                    logged[request_id] += 1
                    logged_values[request_id] = (int(entity_id), field_, new_value)
            touched = sorted({p["offering"] for p in result.patches})
            stored = {int(i): (fp, v) for i, fp, v in conn.execute(
                sql_select(t.offerings.c.id, t.offerings.c.free_places, t.offerings.c.version)
                .where(t.offerings.c.id.in_(touched)))} if touched else {}
            log_total = conn.execute(sql_select(func.count()).select_from(t.audit_log)).scalar_one()
            current = {(int(school), int(code)): fp for school, code, fp in conn.execute(
                sql_select(t.offerings.c.school_id, t.offerings.c.admgr_code, t.offerings.c.free_places)
                .where(t.offerings.c.school_year == result.world.current))}
            nt = network_tables("wp_")
            ov_rows = conn.execute(sql_select(func.count()).select_from(nt.ov_offerings)).scalar_one()
            ov_runs = Counter(conn.execute(sql_select(nt.job_runs.c.status).where(nt.job_runs.c.job == "ov-sync")).scalars())
    finally:
        engine.dispose()
    problems = []
    ok = [p for p in result.patches if p["status"] == 200]
    for p in result.patches:
        if p["status"] == 200:
            if logged[p["request_id"]] != 1:
                problems.append(f"PATCH {p['request_id']} answered 200 but is in the log {logged[p['request_id']]} times")
            elif logged_values[p["request_id"]] != (p["offering"], "free_places", str(p["value"])):
                problems.append(f"PATCH {p['request_id']}: the log says {logged_values[p['request_id']]}")
        elif p["status"] is not None and logged[p["request_id"]]:
            problems.append(f"PATCH {p['request_id']} answered {p['status']} but is in the log")
    by_offering = defaultdict(list)
    for p in ok:
        by_offering[p["offering"]].append(p)
    unknown = {p["offering"] for p in result.patches if p["status"] is None}
    for offering, applied in by_offering.items():
        if offering in unknown:
            continue
        applied.sort(key=lambda p: p["version"])
        first, last = applied[0], applied[-1]
        expected = (last["value"], first["version"] + len(applied))
        if [p["version"] for p in applied] != list(range(first["version"], first["version"] + len(applied))):
            problems.append(f"offering {offering}: the 200 PATCHes did not follow each other's versions "
                            f"({[p['version'] for p in applied]})")
        if stored.get(offering) != expected:
            problems.append(f"offering {offering}: stored (free_places, version) {stored.get(offering)}, "
                            f"expected {expected} from its {len(applied)} PATCHes")
    for export in result.exports:
        if export["status"] == 200:
            rows = export["lines"] - 3  # title, date, heading
            if not (result.world.seeded_log_rows <= rows <= log_total) or not export["ends_with_newline"]:
                problems.append(f"log export: {rows} rows (expected {result.world.seeded_log_rows}..{log_total}), "
                                f"complete: {export['ends_with_newline']}")
            export["rows"] = rows
    if ov_rows != result.profile.ov_records or ov_runs != Counter({"succeeded": len(result.ov_runs)}):
        problems.append(f"OV: {ov_rows} snapshot rows (expected {result.profile.ov_records}), runs {dict(ov_runs)}")
    # The public table after the load shows what the database holds, whichever worker answers. Reported apart:
    # a known defect (docs/reliability.md) makes it differ now and then, until the next change on the site.
    stale = []
    for etag, table in result.final_tables:
        shown = {(s["id"], c["admgr_code"]): c["free_places"] for s in table.get("schools", []) for c in s["columns"]}
        shown.update({(s["id"], AN_ADMGR): s["an"]["free_places"] for s in table.get("schools", []) if s["an"]})
        if etag != result.final_tables[0][0] or shown != current:
            wrong = sum(1 for key, value in current.items() if shown.get(key, "missing") != value)
            stale.append(f"public table after the load (ETag {etag}): {wrong} of {len(current)} free places "
                         "differ from the database")
    return {"patches_ok": len(ok), "patches_logged": sum(1 for p in ok if logged[p["request_id"]] == 1),
            "offerings_touched": len(by_offering), "log_rows_after": log_total, "problems": problems,
            "stale_public_table": stale}


# --- the report ------------------------------------------------------------------------------------------


def ms(values: list[float], pct: float) -> float:
    return percentile(values, pct) * 1000


def report(result: Result, say=print) -> None:
    p = result.profile
    seconds = result.load_seconds or p.seconds
    public = result.public
    by_status = Counter(r[2] for r in public)
    conditional = [r for r in public if r[3]]
    load_304 = [r[1] for r in public if r[2] == 304]
    load_200 = [r[1] for r in public if r[2] == 200]
    patches = [x for x in result.patches if x["at"] >= 0]
    patch_lat = [x["latency"] for x in patches if x["latency"] is not None]
    say("")
    say(f"registration week on MariaDB: lop-sidecar serve --workers {p.workers} --threads {p.threads}; "
        f"{p.schools} schools x {p.offerings_per_school} programmes; {result.load_seconds:.0f} s of load; "
        f"machine: {os.cpu_count()} cores")
    say(f"public table : {len(public)} requests ({len(public) / seconds:.0f}/s) from {p.clients} clients; "
        f"{len(conditional)} with If-None-Match ({len(conditional) / max(1, len(public)):.0%}); "
        f"304: {by_status[304]}, 200: {by_status[200]}, other: {len(public) - by_status[304] - by_status[200]}")
    say(f"school admins: {len(patches)} PATCHes ({len(patches) / seconds:.1f}/s), {len(result.lists)} list reads; "
        f"200: {sum(1 for x in patches if x['status'] == 200)}")
    for export in result.exports:
        say(f"log export   : {export['status']}, {export.get('rows', export['lines'])} rows in {export['seconds']:.1f} s "
            f"(started at {export['at']:.0f} s)")
    for n, run_ in enumerate(result.ov_runs, start=1):
        say(f"ov-sync {n}    : exit {run_['returncode']} in {run_['seconds']:.1f} s (started at {run_['at']:.0f} s): "
            f"{run_['output'][-220:]}")
    say("latency          idle p50   idle p99   load p50   load p99   p50 ratio   p99 ratio (target p99 <= 5x)")
    for name, idle, load in (("304 (If-None-Match)", result.idle_304, load_304), ("PATCH", result.idle_patch, patch_lat)):
        say(f"{name:20s} {ms(idle, 50):6.1f} ms {ms(idle, 99):7.1f} ms {ms(load, 50):7.1f} ms {ms(load, 99):7.1f} ms"
            f"   {ms(load, 50) / ms(idle, 50):6.1f}x    {ms(load, 99) / ms(idle, 99):6.1f}x")
    say(f"{'200 (whole table)':20s}                       {ms(load_200, 50):7.1f} ms {ms(load_200, 99):7.1f} ms")
    lists = [x[1] for x in result.lists]
    say(f"{'offerings list':20s}                       {ms(lists, 50):7.1f} ms {ms(lists, 99):7.1f} ms")
    warm_until = max(30.0, seconds / 10)
    for pid, samples in sorted(result.rss.items()):
        warm = [kb for at, kb in samples if at >= warm_until]
        if not warm:
            continue
        quarters = " ".join(f"{next(kb for at, kb in samples if at >= q * seconds / 4) / 1024:.0f}"
                            for q in (1, 2, 3) if samples[-1][0] >= q * seconds / 4)
        say(f"worker {pid} RSS: {samples[0][1] / 1024:.0f} MB at start, {warm[0] / 1024:.0f} MB after warm-up "
            f"({warm_until:.0f} s), {quarters} MB at each quarter, {warm[-1] / 1024:.0f} MB at the end, max "
            f"{max(warm) / 1024:.0f} MB: growth after warm-up {(warm[-1] - warm[0]) / warm[0]:+.1%} (target < 10%)")
    served = len(public) + len(patches) + len(result.lists) + len(result.exports)
    say("CPU seconds during the load: " + ", ".join(f"{k} {v:.0f}" for k, v in result.cpu.items())
        + f" (of {seconds * (os.cpu_count() or 1):.0f} core-seconds); server workers "
        f"{result.cpu.get('server workers', 0) / max(1, served) * 1000:.1f} ms a request")
    say(f"keep-alive races: {result.keepalive_retries} requests sent again on a fresh connection after the server "
        "closed the idle one as they went out (as curl and browsers do; never after an answer began)")
    say(f"server log: statuses {result.server_log.get('statuses')}, {result.server_log.get('counts')}, "
        f"worker restarts {result.server_log.get('worker_restarts')}")
    say(f"MariaDB (server-wide, also other databases): deadlocks {result.innodb.get('Innodb_deadlocks')}, "
        f"row lock waits {result.innodb.get('Innodb_row_lock_waits')}")
    say(f"check: {result.check.get('patches_ok')} PATCHes answered 200, {result.check.get('patches_logged')} in the log "
        f"exactly once, {result.check.get('offerings_touched')} offerings as expected; problems: "
        f"{len(result.check.get('problems', []))}; failed requests: {len(result.failures)}")
    for failure in result.failures[:10]:
        say(f"  failure: {failure}")
    for problem in result.check.get("problems", [])[:10]:
        say(f"  problem: {problem}")
    for stale in result.check.get("stale_public_table", [])[:3]:
        say(f"  known defect, out-of-order commits (docs/reliability.md): {stale}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    defaults = Profile()
    parser.add_argument("--minutes", type=float, default=30)
    for name in ("workers", "threads", "clients", "admins", "client_think", "admin_think", "ov_every", "export_every"):
        parser.add_argument("--" + name.replace("_", "-"), type=type(getattr(defaults, name)),
                            default=getattr(defaults, name))
    args = parser.parse_args()
    profile = Profile(seconds=args.minutes * 60, rss_every=5.0 if args.minutes > 2 else 2.0,
                      **{name: getattr(args, name) for name in ("workers", "threads", "clients", "admins", "client_think",
                                                                 "admin_think", "ov_every", "export_every")})
    print(f"registration week, {dt.datetime.now():%Y-%m-%d %H:%M}")
    with fresh_mysql_database() as url:
        result = run(url, profile)
    report(result)
    ok = not result.failures and not result.check["problems"] and all(r["returncode"] == 0 for r in result.ov_runs)
    print("RESULT: " + ("held" if ok else "NOT held"))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
