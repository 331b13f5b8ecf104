"""PATCH of an offering on MariaDB: the rights check, the optimistic lock and the audit rows, against a
bare UPDATE of the same row through the same engine, in the same run (issue 3: ratio >= 0.50).

The PATCH is measured twice: as the service code path a request runs after authentication (the target;
authentication has read the site, its settings included, and the user), and through the whole app
in-process (signature, nonce, site and roles: for information).

    python -m bench.offerings [--n 400] [--rounds 5]
"""

from __future__ import annotations

import argparse
import time

from sqlalchemy import select

from bench._common import SECRET, fresh_mysql_database
from bench._seed import SITE, seed_site
from rules.roles import Role
from service import create_app
from service.config import Config
from service.rights import Rights
from service.signing import sign_headers
from wp_bridge.audit import Actor
from wp_bridge.offerings import get_offering, update_offering
from wp_bridge.tables import network_tables, site_tables


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=400, help="updates per route and round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with fresh_mysql_database() as url:
        engine, network, info = seed_site(url, schools=5, offerings_per_school=20)
        t, nt = site_tables(network.prefix(SITE)), network_tables("wp_")
        with engine.connect() as conn:
            offering_id = conn.execute(select(t.offerings.c.id).where(t.offerings.c.school_id == 1).limit(1)).scalar_one()
        actor = Actor(info["expert"], "bench.expert", "lop_expert", "api")
        with engine.connect() as conn:
            site = network.get_site(conn, SITE)  # as authentication reads it

        def bare(i):
            with engine.begin() as conn:
                conn.execute(t.offerings.update().where(t.offerings.c.id == offering_id).values(free_places=i % 50))

        def service_patch(i):
            with engine.begin() as conn:  # as a request: one transaction for the checks and the change
                rights = Rights.load(conn, site, t, Role.LOP_EXPERT, info["expert"])
                offering = get_offering(conn, t, nt, 1, offering_id)
                rights.require_fields(1, "current", offering["type"], ["free_places"])
                update_offering(conn, t, nt, SITE, actor, offering, {"free_places": 1 + i % 50}, offering["version"])

        app = create_app(Config(database_url=url, shared_secrets=(SECRET,)))
        client = app.test_client()
        path = f"/api/v1/sites/{SITE}/schools/1/offerings/{offering_id}"

        def api_patch(i):
            body = f'{{"free_places": {2 + i % 50}}}'.encode()
            headers = {**sign_headers(SECRET, "PATCH", path, user=info["expert"], body=body), "Content-Type": "application/json"}
            response = client.patch(path, data=body, headers=headers)
            assert response.status_code == 200, response.json

        results = {}
        for fn in (bare, service_patch, api_patch):  # warm-up
            for i in range(50):
                fn(i)
        for _round in range(args.rounds):  # interleaved rounds: drift hits all three alike
            for name, fn in (("bare", bare), ("service", service_patch), ("api", api_patch)):
                started = time.perf_counter()
                for i in range(args.n):
                    fn(i)
                results[name] = results.get(name, 0.0) + time.perf_counter() - started
        engine.dispose()
    total = args.rounds * args.n
    rate = {name: total / seconds for name, seconds in results.items()}
    print(f"MariaDB, {total} updates each, in {args.rounds} interleaved rounds")
    print(f"bare UPDATE + commit           : {rate['bare']:7.0f} /s")
    print(f"PATCH service path (rights, optimistic lock, audit row): {rate['service']:7.0f} /s  "
          f"ratio {rate['service'] / rate['bare']:.2f} (target >= 0.50)")
    print(f"PATCH through the app in-process (signature, nonce, roles too): {rate['api']:7.0f} /s  "
          f"ratio {rate['api'] / rate['bare']:.2f}")


if __name__ == "__main__":
    main()
