"""What a request costs the server (issue 17): worker CPU, MariaDB CPU and database round trips per request
of ``lop-sidecar serve`` on MariaDB, against the unsigned no-op ``GET /api/v1/health/live`` and against
WordPress answering its own REST API (``GET /wp-json/wp/v2/users/1``, Debian's WordPress under ``php -S`` with
OPcache, on a database WordPress installed).

- CPU per request: a sequential client (its own process), ``--requests`` requests per route after a warm-up;
  the user + system time from ``/proc/<pid>/stat`` of the one worker (never the master) or of ``php -S``, and
  of ``mariadbd``.
- Round trips per request: the server's ``Questions`` plus ``Com_admin_commands`` (pings count) before and
  after one request — the least of 20 tries, as other clients of a shared server can only add to it.
- Throughput under ``--clients`` concurrent clients, for information only.

Targets: a signed read in at most 3 round trips and at most 3x the no-op's worker CPU; the public 304 at most
3 round trips; a PATCH at most 6; the sidecar at least 8x cheaper (worker + MariaDB) than WordPress's REST.

    python -m bench.api_overhead [--requests 2000] [--clients 16] [--seconds 3]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import multiprocessing
import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench._common import MYSQL_URL, SECRET, free_port, fresh_mysql_database, percentile, served
from bench._platform import cpu_seconds
from bench._seed import SITE, seed_site
from service.signing import sign_headers

ROOT = Path(__file__).resolve().parent.parent
WORDPRESS_REST = "/?rest_route=/wp/v2/users/1"  # /wp-json/wp/v2/users/1 without pretty permalinks


class Route:
    """One request to measure; ``prepare`` returns the method, path, headers and body of the next one."""

    def __init__(self, label: str, port: int, prepare: Callable[[], tuple[str, str, dict, bytes]], expect: int = 200,
                 refresh: Callable[[], None] = lambda: None):
        self.label, self.port, self.prepare, self.expect = label, port, prepare, expect
        self.refresh = refresh  # called before each series (the 304 needs the table's current ETag)

    def send(self, conn: http.client.HTTPConnection | None = None) -> http.client.HTTPResponse:
        method, path, headers, body = self.prepare()
        own = conn is None
        conn = conn or http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=body or None, headers=headers)
            response = conn.getresponse()
            response.body = response.read()
        finally:
            if own:
                conn.close()
        if response.status != self.expect:
            raise SystemExit(f"{self.label}: HTTP {response.status} {response.body[:300]!r}")
        return response


def sidecar_routes(port: int, info: dict, offering: tuple[int, int]) -> list[Route]:
    def signed(method: str, path: str, user: int, body: bytes = b"", extra: dict | None = None):
        headers = sign_headers(SECRET, method, path, user=user, body=body)
        if body:
            headers["Content-Type"] = "application/json"
        return method, path, {**headers, **(extra or {})}, body

    school, offering_id = offering
    patch_path = f"/api/v1/sites/{SITE}/schools/{school}/offerings/{offering_id}"
    state = {"n": 0, "etag": None}

    def patch():
        state["n"] += 1
        body = json.dumps({"free_places": state["n"] % 20}).encode()
        return signed("PATCH", patch_path, info["expert"], body, {"If-Match": state["etag"]} if state["etag"] else {})

    free_places = f"/api/v1/sites/{SITE}/free-places"
    table = Route("table", port, lambda: signed("GET", free_places, 0))

    def current_etag():
        state["table_etag"] = table.send().getheader("ETag")
    routes = [
        Route("no-op GET /api/v1/health/live", port, lambda: ("GET", "/api/v1/health/live", {}, b"")),
        Route(f"signed GET /api/v1/sites/{SITE}/schools", port, lambda: signed("GET", f"/api/v1/sites/{SITE}/schools", info["expert"])),
        Route("signed PATCH of an offering", port, patch),
        Route("public free places, 304", port, lambda: signed("GET", free_places, 0, extra={"If-None-Match": state["table_etag"]}),
              expect=304, refresh=current_etag),
    ]
    patch_route = routes[2]
    original_send = patch_route.send

    def send_and_keep_etag(conn=None):
        response = original_send(conn)
        state["etag"] = response.getheader("ETag")
        return response

    patch_route.send = send_and_keep_etag
    return routes


def _sequential(route: Route, count: int, keep_alive: bool, queue) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", route.port, timeout=30) if keep_alive else None
    for _ in range(count):
        route.send(conn)
    queue.put(True)


def cpu_per_request(route: Route, count: int, pids: list[int], keep_alive: bool = False) -> list[float]:
    """CPU milliseconds per request of each of ``pids`` over ``count`` sequential requests from another process."""
    route.refresh()
    before = [cpu_seconds(pid) for pid in pids]
    queue = multiprocessing.Queue()
    process = multiprocessing.Process(target=_sequential, args=(route, count, keep_alive, queue))
    process.start()
    queue.get()
    process.join()
    return [(cpu_seconds(pid) - b) * 1000 / count for pid, b in zip(pids, before, strict=True)]


def _statements(conn) -> int:
    rows = dict(conn.execute(text("SHOW GLOBAL STATUS WHERE Variable_name IN ('Questions', 'Com_admin_commands')")).all())
    return int(rows["Questions"]) + int(rows["Com_admin_commands"])


def round_trips(route: Route, tries: int = 20) -> int:
    """The least of ``tries`` clean samples: a sample counts when two reads of the counters just before it
    saw nothing else reach the server (a shared server's other clients can only add to a count)."""
    engine = create_engine(MYSQL_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            reading = min(-_statements(conn) + _statements(conn) for _ in range(5))
            route.refresh()
            costs = []
            while len(costs) < tries:
                first = _statements(conn)
                before = _statements(conn)
                route.send()
                after = _statements(conn)
                if before - first == reading:
                    costs.append(after - before - reading)
            return min(costs)
    finally:
        engine.dispose()


def throughput(route: Route, clients: int, seconds: float) -> tuple[float, float]:
    """Requests per second and p99 (ms) under ``clients`` concurrent clients in one process, for information."""
    route.refresh()
    latencies: list[float] = []
    lock = threading.Lock()
    stop_at = time.perf_counter() + seconds

    def client():
        local = []
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            route.send()
            local.append(time.perf_counter() - started)
        with lock:
            latencies.extend(local)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(latencies) / (time.perf_counter() - began), percentile(latencies, 99) * 1000


def mariadb_pid() -> int:
    """The server the benchmark's database is on (from its pid file: other MariaDB instances may run)."""
    engine = create_engine(MYSQL_URL)
    try:
        with engine.connect() as conn:
            pid_file = conn.execute(text("SELECT @@pid_file")).scalar_one()
    finally:
        engine.dispose()
    try:
        return int(Path(pid_file).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        raise SystemExit(f"cannot read MariaDB's pid file {pid_file}: the benchmark reads the server's CPU time from /proc") from None


def worker_pid(master: int) -> int:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    if len(children) != 1:
        raise SystemExit(f"expected one gunicorn worker under {master}, found {children}")
    return int(children[0])


@contextlib.contextmanager
def wordpress_rest() -> Iterator[tuple[Route, int]]:
    """Debian's WordPress, installed by its own PHP into a fresh database, under ``php -S`` with OPcache."""
    from tests.wordpress_network import php_env, run_php

    with fresh_mysql_database() as url:
        run_php("install_network.php", php_env(url, WP_INSTALLING="1"))
        port = free_port()
        parsed = make_url(url)
        env = {**os.environ, "WP_DB_NAME": parsed.database, "WP_DB_HOST": f"{parsed.host}:{parsed.port or 3306}",
               "WP_DB_USER": parsed.username or "root", "WP_DB_PASSWORD": parsed.password or ""}
        php = subprocess.Popen(["php", "-d", "opcache.enable=1", "-d", "opcache.enable_cli=1", "-d", "opcache.validate_timestamps=0",
                                "-S", f"127.0.0.1:{port}", str(ROOT / "bench" / "wordpress_rest.php")],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        route = Route("WordPress GET /wp-json/wp/v2/users/1", port, lambda: ("GET", WORDPRESS_REST, {"Host": "lop.test"}, b""))
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    route.send()
                    break
                except (OSError, SystemExit):
                    if time.monotonic() > deadline or php.poll() is not None:
                        raise
                    time.sleep(0.2)
            yield route, php.pid
        finally:
            php.terminate()
            php.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000, help="sequential requests per route (default 2000)")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=3, help="per route, for the throughput figures")
    args = parser.parse_args()
    warm_up = max(50, args.requests // 10)
    database = mariadb_pid()
    results: dict[str, tuple[float, float, int]] = {}
    rates: dict[str, tuple[float, float]] = {}

    with fresh_mysql_database() as url:
        engine, _network, info = seed_site(url, schools=20, offerings_per_school=1)
        with engine.connect() as conn:
            offering = tuple(conn.execute(text(f"SELECT school_id, id FROM wp_{SITE}_lop_offerings ORDER BY id LIMIT 1")).one())
        engine.dispose()
        with served({"LOP_DATABASE_URL": url, "LOP_SHARED_SECRET": SECRET}, workers=1, return_process=True) as (base, master):
            port = int(base.rsplit(":", 1)[1])
            routes = sidecar_routes(port, info, offering)
            worker = worker_pid(master.pid)
            for route in routes:
                cpu_per_request(route, warm_up, [worker])
            for route in routes:
                worker_ms, db_ms = cpu_per_request(route, args.requests, [worker, database])
                results[route.label] = (worker_ms, db_ms, round_trips(route))
            for route in routes:
                rates[route.label] = throughput(route, args.clients, args.seconds)

    with wordpress_rest() as (route, php_pid):
        cpu_per_request(route, warm_up, [php_pid], keep_alive=True)
        php_ms, db_ms = cpu_per_request(route, args.requests, [php_pid, database], keep_alive=True)
        results[route.label] = (php_ms, db_ms, round_trips(route, tries=5))

    noop_worker = results[routes[0].label][0]
    wordpress_total = sum(results[route.label][:2])
    print(f"{args.requests} sequential requests per route after {warm_up} to warm up; lop-sidecar serve --workers 1 on MariaDB; "
          f"WordPress {WORDPRESS_REST} under php -S with OPcache")
    print(f"{'request':42} {'worker ms':>9} {'x no-op':>8} {'MariaDB ms':>10} {'round trips':>11} {'WordPress / this':>16}")
    for label, (worker_ms, db_ms, trips) in results.items():
        print(f"{label:42} {worker_ms:9.2f} {worker_ms / noop_worker:8.2f} {db_ms:10.2f} {trips:11d} "
              f"{wordpress_total / (worker_ms + db_ms):16.1f}")
    read, patch, not_modified = (results[r.label] for r in routes[1:])
    print(f"targets: signed read {read[2]} round trips (<= 3) and {read[0] / noop_worker:.2f}x the no-op's worker CPU (<= 3); "
          f"304 {not_modified[2]} round trips (<= 3); PATCH {patch[2]} (<= 6); WordPress's REST request costs "
          f"{wordpress_total / sum(read[:2]):.1f}x a signed read (>= 8)")
    print(f"for information, {args.clients} concurrent clients for {args.seconds:g} s per route: " +
          "; ".join(f"{label.split(' ', 1)[0]} {label.split(' ', 2)[1]}: {rps:.0f} req/s, p99 {p99:.1f} ms"
                    for label, (rps, p99) in rates.items()))


if __name__ == "__main__":
    main()
