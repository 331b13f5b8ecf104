"""AgODi sync of a generated 10,000-row AG file on MariaDB (issue 6): the first sync (< 2 s), a re-sync
of the unchanged file (< 1 s), and the first sync against a bare ``executemany`` insert of the same rows
through the same engine, measured in the same run (ratio <= 3).

    python -m bench.agodi [--rows 10000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time

from sqlalchemy import delete

from bench._common import fresh_mysql_database
from jobs.runner import run_now
from rules.agodi import parse
from service.config import Config
from service.runtime import Runtime
from wp_bridge.db import utcnow
from wp_bridge.migrations import migrate
from wp_bridge.wp_install import install_network

VORMEN = ["GSO", "ASO", "BSO", "TSO", "HBO", "KSO", "999"]


def generate(rows: int) -> bytes:
    lines = ["Administratieve groep\tOmschrijving\tOnderwijsniveau\tOnderwijsvorm\tGraad\tLeerjaar\tBegindatum\tEinddatum"]
    for n in range(rows):
        lines.append(f"{10001 + n}\tOpleiding {n} – studierichting {n % 97}\tSO\t{VORMEN[n % 7]}\t{1 + n % 3}\t"
                     f"{1 + n % 7}\t2019-09-01\t")
    return ("\r\n".join(lines) + "\r\n").encode("cp1252")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    data = generate(args.rows)
    with fresh_mysql_database() as url, tempfile.NamedTemporaryFile(suffix=" AG.txt") as handle:
        handle.write(data)
        handle.flush()
        runtime = Runtime.from_config(Config(database_url=url))
        with runtime.engine.begin() as conn:
            install_network(conn, runtime.network)
        migrate(runtime.engine, runtime.network)
        admgr = runtime.network_tables.admgr
        rows = [{**row, "active": True, "updated_at": utcnow(), "search_text": ""}
                for row in parse(data).rows.values()]
        first, resync, bare = [], [], []
        for _round in range(args.rounds):
            with runtime.engine.begin() as conn:
                conn.execute(delete(admgr))
            started = time.perf_counter()
            with runtime.engine.begin() as conn:
                conn.execute(admgr.insert(), rows)
            bare.append(time.perf_counter() - started)
            with runtime.engine.begin() as conn:
                conn.execute(delete(admgr))
            for target in (first, resync):
                started = time.perf_counter()
                run = run_now(runtime, "agodi-sync", site_id=None, trigger="cli", options={"source": handle.name})
                target.append(time.perf_counter() - started)
                assert run["status"] == "succeeded", run["error"]
            assert run["summary"] == f"{args.rows} in file: 0 added, 0 updated, {args.rows} unchanged, 0 no longer in file"
        runtime.engine.dispose()
    best = {name: min(values) for name, values in (("first", first), ("resync", resync), ("bare", bare))}
    print(f"MariaDB, {args.rows} rows, best of {args.rounds} ({dt.date.today()})")
    print(f"bare executemany insert : {best['bare']:.2f} s")
    print(f"first sync              : {best['first']:.2f} s (target < 2)  ratio {best['first'] / best['bare']:.2f} (target <= 3)")
    print(f"re-sync, unchanged file : {best['resync']:.2f} s (target < 1)")


if __name__ == "__main__":
    main()
