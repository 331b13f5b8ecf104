"""API overhead: a signed ``GET /api/v1/sites/{site}/schools`` (20 schools) versus the unsigned no-op
``GET /api/v1/health/live`` on the same ``lop-sidecar serve`` on MariaDB, under 16 concurrent clients
running in a second process on loopback. Rounds alternate between the two routes so that drift on a
shared machine hits both alike.

Targets (issue 2): signed throughput >= 50% of the no-op's; signed p99 < 25 ms.

    python -m bench.api_overhead [--seconds 5] [--rounds 3] [--workers 2] [--clients 16]
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import threading
import time

from bench._common import SECRET, fresh_mysql_database, percentile, served
from bench._seed import SITE, seed_site
from service.signing import sign_headers


def seed(url: str) -> tuple[int, int]:
    """Site 2 with 20 schools (bench/_seed.py); returns the site and its LOP expert."""
    engine, _network, info = seed_site(url, schools=20, offerings_per_school=1)
    engine.dispose()
    return SITE, info["expert"]


def _client_process(host: str, port: int, path: str, signed_user: int | None, seconds: float, clients: int, queue):
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop_at = time.perf_counter() + seconds

    def worker():
        local, failed = [], 0
        while time.perf_counter() < stop_at:
            headers = sign_headers(SECRET, "GET", path, user=signed_user) if signed_user is not None else {}
            started = time.perf_counter()
            conn = http.client.HTTPConnection(host, port, timeout=10)
            try:
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                response.read()
                if response.status != 200:
                    failed += 1
            except OSError:
                failed += 1
            finally:
                conn.close()
            local.append(time.perf_counter() - started)
        with lock:
            latencies.extend(local)
            errors[0] += failed

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    begun = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    queue.put((latencies, errors[0], time.perf_counter() - begun))


def measure(base: str, path: str, user: int | None, seconds: float, clients: int) -> tuple[list[float], int, float]:
    host, port = base.removeprefix("http://").split(":")
    queue = multiprocessing.Queue()
    process = multiprocessing.Process(target=_client_process, args=(host, int(port), path, user, seconds, clients, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--clients", type=int, default=16)
    args = parser.parse_args()

    with fresh_mysql_database() as url:
        site, expert = seed(url)
        env = {"LOP_DATABASE_URL": url, "LOP_SHARED_SECRET": SECRET}
        with served(env, args.workers, args.threads) as base:
            signed_path = f"/api/v1/sites/{site}/schools"
            measure(base, "/api/v1/health/live", None, 1, args.clients)  # warm-up
            measure(base, signed_path, expert, 1, args.clients)
            noop_lat, signed_lat, noop_time, signed_time, failures = [], [], 0.0, 0.0, 0
            for _ in range(args.rounds):
                lat, err, elapsed = measure(base, "/api/v1/health/live", None, args.seconds, args.clients)
                noop_lat += lat; noop_time += elapsed; failures += err
                lat, err, elapsed = measure(base, signed_path, expert, args.seconds, args.clients)
                signed_lat += lat; signed_time += elapsed; failures += err

    noop_rps, signed_rps = len(noop_lat) / noop_time, len(signed_lat) / signed_time
    print(f"server: lop-sidecar serve --workers {args.workers} --threads {args.threads} on MariaDB; "
          f"{args.clients} clients in a second process; {args.rounds} x {args.seconds:g} s per route")
    print(f"no-op  GET /api/v1/health/live      : {noop_rps:8.0f} req/s  p50 {percentile(noop_lat, 50) * 1000:6.1f} ms"
          f"  p99 {percentile(noop_lat, 99) * 1000:6.1f} ms")
    print(f"signed GET /api/v1/sites/2/schools : {signed_rps:8.0f} req/s  p50 {percentile(signed_lat, 50) * 1000:6.1f} ms"
          f"  p99 {percentile(signed_lat, 99) * 1000:6.1f} ms")
    print(f"throughput ratio signed/no-op: {signed_rps / noop_rps:.2f} (target >= 0.50); "
          f"signed p99 {percentile(signed_lat, 99) * 1000:.1f} ms (target < 25 ms); failed requests: {failures}")


if __name__ == "__main__":
    main()
