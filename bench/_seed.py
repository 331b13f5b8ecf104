"""A LOP site of a given size on a fresh database, for the benchmarks."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine

from rules.school_year import current_school_year, next_school_year
from service.demo import CATALOGUE, _add_user
from wp_bridge.db import make_engine, utcnow
from wp_bridge.php_serialize import serialize
from wp_bridge.site_admin import enable_site
from wp_bridge.sites import Network
from wp_bridge.tables import network_tables, site_tables
from wp_bridge.wp_install import add_site, install_network

SITE = 2


def seed_site(url: str, schools: int, offerings_per_school: int) -> tuple[Engine, Network, dict]:
    """Site 2 with ``schools`` SO schools, each with ``offerings_per_school`` offerings in the current and
    the next school year; a catalogue that covers the codes; a LOP expert and one linked school admin."""
    engine, network = make_engine(url), Network("wp_")
    today = dt.date.today()
    with engine.begin() as conn:
        install_network(conn, network)
        add_site(conn, network, SITE, domain="localhost", path="/lop/", name="LOP Bench")
    enable_site(engine, network, SITE, today)
    current = current_school_year(today)
    years = (current, next_school_year(current))
    t, nt, now = site_tables(network.prefix(SITE)), network_tables("wp_"), utcnow()
    vormen = ["GSO", "ASO", "BSO", "TSO", "HBO", "KSO", "999", None]
    with engine.begin() as conn:
        expert = _add_user(conn, network, "bench.expert", "Bench Expert", {SITE: "administrator"})
        admin = _add_user(conn, network, "bench.admin", "Bench Admin", {SITE: "schoolbeheerder"})
        conn.execute(network.core.sitemeta.insert().values(site_id=1, meta_key="site_admins", meta_value=serialize(["x"])))
        codes = [c for c, *_ in CATALOGUE] + [60000 + n for n in range(max(0, offerings_per_school - len(CATALOGUE)))]
        known = {c for c, *_ in CATALOGUE}
        conn.execute(nt.admgr.insert(), [
            {"code": c, "description": d, "onderwijsniveau": n, "onderwijsvorm": v, "graad": g, "leerjaar": lj,
             "active": True, "updated_at": now} for c, d, n, v, g, lj in CATALOGUE] + [
            {"code": c, "description": f"Opleiding {c}", "onderwijsniveau": "SO", "onderwijsvorm": vormen[c % 8],
             "graad": 1 + c % 3, "leerjaar": 1 + c % 6, "active": True, "updated_at": now} for c in codes if c not in known])
        conn.execute(t.schools.insert(), [{"id": s + 1, "name": f"School {s:03d}", "type": "SO", "created_at": now,
                                           "updated_at": now} for s in range(schools)])
        conn.execute(t.vestigingen.insert(), [{"school_id": s + 1, "instellingsnummer": 100000 + s, "vestigingsnummer": 1}
                                              for s in range(schools)])
        conn.execute(t.school_admins.insert().values(school_id=1, user_id=admin, created_at=now))
        conn.execute(t.offerings.insert(), [
            {"school_id": s + 1, "school_year": year, "admgr_code": code, "capacity": 24, "free_places": 4,
             "enrolled": 20, "version": 1, "created_at": now, "updated_at": now}
            for s in range(schools) for year in years for code in codes[:offerings_per_school]])
    return engine, network, {"expert": expert, "admin": admin, "current": current, "next": years[1]}
