"""The public free-places table for a site of 200 schools x 40 offerings on MariaDB (issue 3): building
it (p50 < 50 ms, within 3x of a plain SELECT of those rows, measured in the same run) and a 304
revalidation (p50 < 5 ms). Requests go through the whole app in-process, signed by the site (user 0).

    python -m bench.free_places [--n 50]
"""

from __future__ import annotations

import argparse
import statistics
import time

from sqlalchemy import select

from bench._common import SECRET, fresh_mysql_database
from bench._seed import SITE, seed_site
from service import create_app
from service.api import free_places as free_places_module
from service.config import Config
from service.signing import sign_headers
from wp_bridge.tables import site_tables


def timed(fn, n: int) -> list[float]:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=50)
    args = parser.parse_args()
    with fresh_mysql_database() as url:
        engine, network, info = seed_site(url, schools=200, offerings_per_school=40)
        t = site_tables(network.prefix(SITE))
        client = create_app(Config(database_url=url, shared_secrets=(SECRET,))).test_client()
        path = f"/api/v1/sites/{SITE}/free-places?year=current"

        def plain_select():
            with engine.connect() as conn:
                rows = conn.execute(select(t.offerings).where(t.offerings.c.school_year == info["current"])).all()
            assert len(rows) == 8000

        def build():
            free_places_module._built.clear()  # every request builds the table anew
            response = client.get(path, headers=sign_headers(SECRET, "GET", path, user=0))
            assert response.status_code == 200

        def cached():
            response = client.get(path, headers=sign_headers(SECRET, "GET", path, user=0))
            assert response.status_code == 200

        etag = client.get(path, headers=sign_headers(SECRET, "GET", path, user=0)).headers["ETag"]

        def revalidate():
            response = client.get(path, headers={**sign_headers(SECRET, "GET", path, user=0), "If-None-Match": etag})
            assert response.status_code == 304

        for fn in (plain_select, build, cached, revalidate):
            timed(fn, 3)
        results = {"select": [], "build": [], "cached": [], "revalidate": []}
        for _round in range(2):
            results["select"] += timed(plain_select, args.n)
            results["build"] += timed(build, args.n)
            results["cached"] += timed(cached, args.n)
            results["revalidate"] += timed(revalidate, args.n)
        engine.dispose()
    p50 = {name: statistics.median(values) for name, values in results.items()}
    print("MariaDB, site of 200 schools x 40 offerings (8,000 rows in the year)")
    print(f"plain SELECT of the rows      : p50 {p50['select']:6.1f} ms")
    print(f"free-places table, built      : p50 {p50['build']:6.1f} ms (target < 50)  ratio to SELECT "
          f"{p50['build'] / p50['select']:.2f} (target <= 3)")
    print(f"free-places table, 200 from the per-process cache (data unchanged): p50 {p50['cached']:6.1f} ms")
    print(f"free-places table, 304        : p50 {p50['revalidate']:6.1f} ms (target < 5)")


if __name__ == "__main__":
    main()
