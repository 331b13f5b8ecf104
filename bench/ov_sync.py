"""OV sync for a network of 3 sites x 150 schools on MariaDB (issue 7): 42,000 offering records in 9 pages
served through ``responses``; fetch + store + compare in under 5 s with peak RSS under 300 MB (the sync
runs in a fresh process), and one school's comparison through the app under 20 ms p50.

    python -m bench.ov_sync
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing
import resource
import statistics
import time

from bench._common import SECRET, fresh_mysql_database

BASE = "https://onderwijs.api.vlaanderen.be"
SITES, SCHOOLS, CODES = (2, 3, 4), 150, 60


def seed(url: str, year_label: str) -> int:
    from service.demo import _add_user
    from wp_bridge.db import make_engine, utcnow
    from wp_bridge.php_serialize import serialize
    from wp_bridge.site_admin import enable_site
    from wp_bridge.sites import Network
    from wp_bridge.tables import network_tables, site_tables
    from wp_bridge.wp_install import add_site, install_network

    engine, network, now = make_engine(url), Network("wp_"), utcnow()
    with engine.begin() as conn:
        install_network(conn, network)
        for site in SITES:
            add_site(conn, network, site, domain="localhost", path=f"/lop{site}/", name=f"LOP {site}")
    for site in SITES:
        enable_site(engine, network, site, dt.date.today())
    with engine.begin() as conn:
        operator = _add_user(conn, network, "bench.operator", "Operator", {1: "administrator"})
        conn.execute(network.core.sitemeta.insert().values(site_id=1, meta_key="site_admins",
                                                            meta_value=serialize(["bench.operator"])))
        conn.execute(network_tables("wp_").admgr.insert(), [
            {"code": 50000 + c, "description": f"Opleiding {c}", "onderwijsvorm": ["ASO", "BSO", "TSO"][c % 3],
             "graad": 1 + c % 3, "leerjaar": 1 + c % 6, "active": True, "updated_at": now} for c in range(CODES + 10)])
        for n, site in enumerate(SITES):
            t = site_tables(network.prefix(site))
            conn.execute(t.schools.insert(), [{"id": s + 1, "name": f"School {s:03d}", "type": "SO", "created_at": now,
                                               "updated_at": now} for s in range(SCHOOLS)])
            conn.execute(t.vestigingen.insert(), [{"school_id": s + 1, "instellingsnummer": 100000 + n * 1000 + s,
                                                   "vestigingsnummer": 1} for s in range(SCHOOLS)])
            conn.execute(t.offerings.insert(), [
                {"school_id": s + 1, "school_year": year_label, "admgr_code": 50000 + c + (s % 5), "version": 1,
                 "created_at": now, "updated_at": now} for s in range(SCHOOLS) for c in range(40)])
    engine.dispose()
    return operator


def feed(year: int) -> list[dict]:
    records = []
    for n in range(len(SITES)):
        for s in range(SCHOOLS):
            for c in range(CODES):
                records.append({"instelling_nummer": 100000 + n * 1000 + s, "instellingslocatie_vestigingsnummer": 1,
                                "administratievegroep_code": 50000 + c, "administratievegroep_omschrijving": f"Opleiding {c}",
                                "schooljaar": year, "inschrijvingen": True, "financierbaar": True})
    while len(records) < 42000:
        records.append({"instelling_nummer": 900000 + len(records) // 50, "instellingslocatie_vestigingsnummer": 1,
                        "administratievegroep_code": 50000 + len(records) % CODES, "administratievegroep_omschrijving": "x",
                        "schooljaar": year, "inschrijvingen": True, "financierbaar": True})
    return records


def _sync(url: str, year: int, queue) -> None:
    import responses
    from responses import matchers

    from jobs.ov_client import CATALOGUE_PATH, OFFERING_PATH
    from jobs.runner import run_now
    from service.config import Config
    from service.runtime import Runtime

    records = feed(year)
    with responses.RequestsMock() as mock:
        for number, start in enumerate(range(0, len(records), 5000), start=1):
            mock.add(responses.GET, BASE + OFFERING_PATH, match=[matchers.query_param_matcher({"page": str(number), "size": "5000"})],
                     json={"meta": {"total_elements": len(records), "total_pages": 9, "number": number, "last": number == 9},
                           "content": records[start:start + 5000]})
        mock.add(responses.GET, BASE + CATALOGUE_PATH, json={"meta": {"total_elements": 0, "total_pages": 1, "number": 1,
                                                                      "last": True}, "content": []})
        runtime = Runtime.from_config(Config(database_url=url, ov_api_url=BASE, ov_api_key="k"))
        started = time.perf_counter()
        run = run_now(runtime, "ov-sync", site_id=None, trigger="cli")
        elapsed = time.perf_counter() - started
    queue.put((elapsed, run["status"], run["summary"] or run["error"], resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


def main() -> None:
    argparse.ArgumentParser(description=__doc__).parse_args()
    from rules.school_year import current_school_year
    from service import create_app
    from service.config import Config
    from service.signing import sign_headers

    label = current_school_year(dt.date.today())
    with fresh_mysql_database() as url:
        operator = seed(url, label)
        queue = multiprocessing.Queue()
        process = multiprocessing.Process(target=_sync, args=(url, int(label[:4]), queue))
        process.start()
        elapsed, status, summary, rss = queue.get()
        process.join()
        client = create_app(Config(database_url=url, shared_secrets=(SECRET,))).test_client()
        path = f"/api/v1/sites/{SITES[1]}/ov-comparison?school=7"
        times = []
        for _ in range(40):
            started = time.perf_counter()
            response = client.get(path, headers=sign_headers(SECRET, "GET", path, user=operator))
            assert response.status_code == 200 and len(response.json["schools"]) == 1
            times.append((time.perf_counter() - started) * 1000)
    print(f"MariaDB, {len(SITES)} sites x {SCHOOLS} schools; 42,000 OV records in 9 pages")
    print(f"ov-sync {status}: {summary[:160]}")
    print(f"fetch + store + compare: {elapsed:.2f} s (target < 5)  peak RSS {rss:.0f} MB (target < 300)")
    print(f"one school's comparison through the app: p50 {statistics.median(times[5:]):.1f} ms (target < 20)")


if __name__ == "__main__":
    main()
