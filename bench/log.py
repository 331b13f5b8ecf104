"""The audit log of one site with 1,000,000 rows on MariaDB (issue 5): the first page and a page 10,000
rows deep (< 20 ms p50, through the app in-process, signature included), the full CSV export
(>= 50,000 rows/s) and XLSX export (>= 10,000 rows/s) with their peak RSS (< 150 MB, each export in a
fresh process), against a bare unbuffered cursor iteration over the same rows in the same run.

    python -m bench.log [--rows 1000000]
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import statistics
import time

from bench._common import SECRET, fresh_mysql_database
from bench._seed import SITE, seed_site
from wp_bridge.db import utcnow
from wp_bridge.tables import site_tables


def fill(engine, rows: int) -> None:
    t = site_tables(f"wp_{SITE}_")
    start = utcnow()
    batch = 20000
    with engine.begin() as conn:
        for offset in range(0, rows, batch):
            conn.execute(t.audit_log.insert(), [
                {"occurred_at": start, "site_id": SITE, "user_id": 1 + n % 7, "user_login": f"user{n % 7}",
                 "user_role": "school_admin", "source": "api", "school_id": 1 + n % 200, "entity": "offering",
                 "entity_id": n, "action": "update", "field": "free_places", "old_value": str(n % 30),
                 "new_value": str((n + 1) % 30), "request_id": "0123456789abcdef0123456789abcdef"}
                for n in range(offset, min(rows, offset + batch))])


def _export(url: str, fmt: str, expert: int, queue) -> None:
    from service import create_app
    from service.config import Config
    from service.signing import sign_headers

    client = create_app(Config(database_url=url, shared_secrets=(SECRET,))).test_client()
    path = f"/api/v1/sites/{SITE}/log/export?format={fmt}"
    started = time.perf_counter()
    response = client.get(path, headers=sign_headers(SECRET, "GET", path, user=expert))
    first_byte = None
    size = 0
    for chunk in response.response:
        if first_byte is None:
            first_byte = time.perf_counter() - started
        size += len(chunk)
    queue.put((time.perf_counter() - started, first_byte, size, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


def _bare(url: str, queue) -> None:
    import mysql.connector
    from sqlalchemy.engine import make_url

    u = make_url(url)
    conn = mysql.connector.connect(host=u.host, port=u.port or 3306, user=u.username, password=u.password or "",
                                   database=u.database)
    cursor = conn.cursor(buffered=False)
    started = time.perf_counter()
    cursor.execute(f"SELECT * FROM wp_{SITE}_lop_audit_log ORDER BY id DESC")
    count = sum(1 for _ in cursor)
    queue.put((time.perf_counter() - started, count, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))
    conn.close()


def in_child(target, *args):
    queue = multiprocessing.Queue()
    process = multiprocessing.Process(target=target, args=(*args, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--n", type=int, default=50)
    args = parser.parse_args()
    from service import create_app
    from service.config import Config
    from service.signing import sign_headers

    with fresh_mysql_database() as url:
        engine, network, info = seed_site(url, schools=200, offerings_per_school=1)
        started = time.perf_counter()
        fill(engine, args.rows)
        print(f"filled {args.rows} log rows in {time.perf_counter() - started:.0f} s")
        client = create_app(Config(database_url=url, shared_secrets=(SECRET,))).test_client()
        with engine.connect() as conn:
            from sqlalchemy import func, select

            top = conn.execute(select(func.max(site_tables(f"wp_{SITE}_").audit_log.c.id))).scalar_one()
        import base64
        import json

        deep_cursor = base64.urlsafe_b64encode(json.dumps({"before": top - 10_000}).encode()).decode().rstrip("=")

        def timed(path):
            times = []
            for _ in range(args.n):
                t0 = time.perf_counter()
                response = client.get(path, headers=sign_headers(SECRET, "GET", path, user=info["expert"]))
                assert response.status_code == 200 and len(response.json["entries"]) == 50
                times.append((time.perf_counter() - t0) * 1000)
            return statistics.median(times)

        first = timed(f"/api/v1/sites/{SITE}/log?limit=50")
        deep = timed(f"/api/v1/sites/{SITE}/log?limit=50&cursor={deep_cursor}")
        bare_seconds, count, bare_rss = in_child(_bare, url)
        csv_seconds, csv_first, csv_size, csv_rss = in_child(_export, url, "csv", info["expert"])
        xlsx_seconds, xlsx_first, xlsx_size, xlsx_rss = in_child(_export, url, "xlsx", info["expert"])
        engine.dispose()
    rows = count
    print(f"MariaDB, {rows} log rows of one site")
    print(f"first page (50)             : p50 {first:.1f} ms (target < 20)")
    print(f"page 10,000 rows deep       : p50 {deep:.1f} ms (target < 20)")
    print(f"bare unbuffered cursor      : {rows / bare_seconds:9.0f} rows/s  peak RSS {bare_rss:.0f} MB")
    print(f"CSV export                  : {rows / csv_seconds:9.0f} rows/s (target >= 50,000)  ratio to bare "
          f"{bare_seconds / csv_seconds:.2f}  first bytes after {csv_first:.2f} s  {csv_size / 1e6:.0f} MB  "
          f"peak RSS {csv_rss:.0f} MB (target < 150)")
    print(f"XLSX export                 : {rows / xlsx_seconds:9.0f} rows/s (target >= 10,000)  ratio to bare "
          f"{bare_seconds / xlsx_seconds:.2f}  {xlsx_size / 1e6:.0f} MB  peak RSS {xlsx_rss:.0f} MB (target < 150)")


if __name__ == "__main__":
    main()
