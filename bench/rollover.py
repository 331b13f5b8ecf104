"""Rollover of a site of 300 schools x 60 programmes (18,000 offerings a year) on MariaDB (issue 8):
under 3 s, and within 4x of a bare ``INSERT … SELECT`` copy of those rows measured in the same run.
The 1 July snapshot exists already (as on 1 August); taking one is timed separately.

    python -m bench.rollover
"""

from __future__ import annotations

import argparse
import time

from sqlalchemy import delete, literal, select

from bench._common import fresh_mysql_database
from bench._seed import SITE, seed_site
from jobs.runner import run_now
from service.config import Config
from service.runtime import Runtime
from wp_bridge.options import set_option
from wp_bridge.rollover import take_snapshot
from wp_bridge.tables import network_tables, site_tables


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--schools", type=int, default=300)
    parser.add_argument("--programmes", type=int, default=60)
    args = parser.parse_args()
    with fresh_mysql_database() as url:
        engine, network, info = seed_site(url, schools=args.schools, offerings_per_school=args.programmes)
        runtime = Runtime.from_config(Config(database_url=url))
        t, nt = site_tables(network.prefix(SITE)), network_tables("wp_")
        o = t.offerings
        start_year = int(info["current"][:4])
        spare = f"{start_year + 5}-{start_year + 6}"

        started = time.perf_counter()
        with engine.begin() as conn:
            conn.execute(o.insert().from_select(
                ["school_id", "admgr_code", "capacity", "indicator_pct", "suffix", "school_year", "version",
                 "created_at", "updated_at"],
                select(o.c.school_id, o.c.admgr_code, o.c.capacity, o.c.indicator_pct, o.c.suffix, literal(spare),
                       literal(1), o.c.created_at, o.c.updated_at).where(o.c.school_year == info["next"])))
        bare = time.perf_counter() - started
        with engine.begin() as conn:
            conn.execute(delete(o).where(o.c.school_year == spare))

        started = time.perf_counter()
        with engine.begin() as conn:
            rows = take_snapshot(conn, t, nt, info["current"], runtime.today(), "manual")
        snapshot = time.perf_counter() - started

        switch = f"{start_year + 1}-08-01"
        started = time.perf_counter()
        run = run_now(runtime, "rollover", site_id=SITE, trigger="cli", options={"date": switch})
        rollover = time.perf_counter() - started
        assert run["status"] == "succeeded", run["error"]
        with engine.begin() as conn:
            set_option(conn, network.prefix(SITE), "lop_sidecar_current_school_year", info["current"])
        engine.dispose()
        runtime.engine.dispose()
    per_year = args.schools * args.programmes
    print(f"MariaDB, {args.schools} schools x {args.programmes} programmes = {per_year} offerings a year")
    print(f"bare INSERT … SELECT of {per_year} rows : {bare:.2f} s")
    print(f"rollover (remove old year, copy new next, audit, review) : {rollover:.2f} s (target < 3)  "
          f"ratio {rollover / bare:.2f} (target <= 4)")
    print(f"1 July snapshot of {rows} rows (taken before, not part of the rollover above): {snapshot:.2f} s")


if __name__ == "__main__":
    main()
