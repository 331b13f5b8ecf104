"""A realistic, fictitious LOP network for ``lop-sidecar demo`` (and for tests that want one).

Site 1 is the network's portal, site 2 a primary-education LOP (BaO), site 3 a secondary one (SO).
Names, numbers and administrative-group codes are made up.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine

from rules.rights import RIGHTS_TYPES, RightsSettings
from rules.school_year import current_school_year, next_school_year
from rules.stages import catalogue_stage
from wp_bridge.audit import Actor
from wp_bridge.catalogue import search_text
from wp_bridge.db import utcnow
from wp_bridge.php_serialize import serialize
from wp_bridge.schools import create_school
from wp_bridge.settings import save_settings
from wp_bridge.site_admin import enable_site
from wp_bridge.sites import Network
from wp_bridge.tables import network_tables, site_tables
from wp_bridge.wp_install import add_site, install_network

DEMO_SECRET = "demo-secret-not-for-production"

# (code, description, onderwijsniveau, onderwijsvorm, graad, leerjaar) — a fictitious catalogue.
CATALOGUE = [
    (1001, "Kleuteronderwijs - instapklas", "BaO", None, None, 0),
    (1002, "Kleuteronderwijs - 1ste kleuterklas", "BaO", None, None, 1),
    (1003, "Kleuteronderwijs - 2de kleuterklas", "BaO", None, None, 2),
    (1004, "Kleuteronderwijs - 3de kleuterklas", "BaO", None, None, 3),
    *[(1010 + n, f"Lager onderwijs - {n}de leerjaar" if n > 1 else "Lager onderwijs - 1ste leerjaar", "BaO", None, None, n)
      for n in range(1, 7)],
    (10000, "Anderstalige nieuwkomers", "BaO", None, None, None),
    (55001, "1ste leerjaar A", "SO", "GSO", 1, 1),
    (55002, "1ste leerjaar B", "SO", "GSO", 1, 1),
    (55101, "Latijn", "SO", "ASO", 1, 2),
    (55102, "Moderne talen en wetenschappen", "SO", "ASO", 1, 2),
    (55103, "STEM-technieken", "SO", "TSO", 1, 2),
    (55104, "Economie en organisatie", "SO", "BSO", 1, 2),
    (56201, "Natuurwetenschappen", "SO", "ASO", 2, 3),
    (56202, "Elektromechanische technieken", "SO", "TSO", 2, 3),
    (56203, "Zorg en welzijn", "SO", "BSO", 2, 3),
    (56204, "Beeldende vorming", "SO", "KSO", 2, 3),
    (57301, "Wiskunde-wetenschappen", "SO", "ASO", 3, 5),
    (57302, "Verpleegkunde", "SO", "HBO", 3, 7),
    (58001, "Opleidingsvorm 4 - 1ste leerjaar", "SO", "999", None, 1),
]



def catalogue_rows(now: dt.datetime) -> list[dict]:
    """The demo catalogue as stored rows: searchable (``search_text``) and with its stage, as a sync stores them."""
    return [{"code": c, "description": d, "onderwijsniveau": n, "onderwijsvorm": v, "graad": g, "leerjaar": lj,
             "stage": catalogue_stage(c, n, d), "search_text": search_text(c, d), "active": True, "updated_at": now}
            for c, d, n, v, g, lj in CATALOGUE]


BAO_CODES = [1001, 1002, 1003, 1004, 1011, 1012, 1013, 1014, 1015, 1016]
SO_CODES = [55001, 55002, 55101, 55102, 55103, 55104, 56201, 56202, 56203, 56204, 57301]
BUSO_CODES = [58001]

TOWNS = ["Dendermonde", "Hamme", "Zele", "Berlare", "Waasmunster", "Lebbeke", "Buggenhout", "Temse", "Wichelen", "Lokeren"]
BAO_NAMES = ["Basisschool De Regenboog", "Vrije Basisschool Sint-Jozef", "Gemeentelijke Basisschool De Boomhut",
             "Basisschool Het Kompas", "Vrije Basisschool De Wegwijzer", "Stedelijke Basisschool Klavertje Vier",
             "Basisschool De Zonnebloem", "Freinetschool De Vlieger", "Buitengewoon Basisonderwijs De Brug",
             "Buitengewoon Basisonderwijs Ter Linde"]
SO_NAMES = ["Sint-Vincentiuscollege", "Atheneum Scheldeland", "Technisch Instituut Sint-Lucas", "Lyceum Onze-Lieve-Vrouw",
            "Campus Durmedal", "Kunsthumaniora Scheldeland", "Middenschool De Brug", "Instituut Heilige Familie",
            "GO! Talentenschool", "Buitengewoon Secundair Onderwijs De Horizon"]


def demo_settings(today: dt.date) -> tuple[RightsSettings, dt.datetime]:
    """Rights that differ before and after the free-registration start (three weeks from today, 09:00
    Brussels time; one week for 1A/1B): before it, school admins prepare next year's offering; after it, they only keep
    their free places and information up to date."""
    start = dt.datetime.combine(today + dt.timedelta(days=21), dt.time(9, 0), ZoneInfo("Europe/Brussels"))
    current = frozenset({"edit_free_places", "edit_enrolled", "edit_extra_info", "edit_dates"})
    before = frozenset({"edit_capacity", "edit_free_places", "edit_indicator_pct", "edit_extra_info", "edit_dates",
                        "add_offering", "remove_offering"})
    after = frozenset({"edit_free_places", "edit_extra_info", "edit_dates"})
    rights = {t: {"current": current, "next_before": before, "next_after": after} for t in RIGHTS_TYPES}
    starts = {t: start.astimezone(dt.timezone.utc) for t in RIGHTS_TYPES}
    starts["1A/1B"] = (start - dt.timedelta(days=14)).astimezone(dt.timezone.utc)  # first years register earlier
    return RightsSettings(starts, rights), start


@dataclass
class DemoSummary:
    sites: list[tuple[int, str, str]] = field(default_factory=list)  # (id, name, type)
    users: list[tuple[int, str, str]] = field(default_factory=list)  # (id, login, what)
    schools: int = 0
    offerings: int = 0
    school_admin_example: tuple[int, int, int] | None = None  # (user, site, school)
    free_registration_start: dt.datetime | None = None


def _add_user(conn: Connection, network: Network, login: str, display_name: str,
              roles_by_site: dict[int, str]) -> int:
    users, usermeta = network.core.users, network.core.usermeta
    user_id = int(conn.execute(users.insert().values(
        user_login=login, user_nicename=login.replace(".", "-"), user_email=f"{login}@example.org",
        user_registered=utcnow().replace(microsecond=0), display_name=display_name,
    )).inserted_primary_key[0])
    meta = []
    for site_id, role in roles_by_site.items():
        prefix = network.prefix(site_id)
        meta.append({"user_id": user_id, "meta_key": f"{prefix}capabilities", "meta_value": serialize({role: True})})
        meta.append({"user_id": user_id, "meta_key": f"{prefix}user_level", "meta_value": "10" if role == "administrator" else "0"})
    meta.append({"user_id": user_id, "meta_key": "nickname", "meta_value": login})
    conn.execute(usermeta.insert(), meta)
    return user_id


def seed_demo(engine: Engine, network: Network, today: dt.date) -> DemoSummary:
    """Create a WordPress network with two LOP sites and fill them (on an empty database): the SQLite demo."""
    summary = DemoSummary()
    with engine.begin() as conn:
        install_network(conn, network, domain="lop.example.org", scheme="https", name="LOP Portaal")
        for site_id, path, name in ((2, "/scheldeland-bao/", "LOP Scheldeland Basisonderwijs"),
                                    (3, "/scheldeland-so/", "LOP Scheldeland Secundair Onderwijs")):
            add_site(conn, network, site_id, domain="lop.example.org", path=path, scheme="https", name=name)
    for site_id in (2, 3):
        enable_site(engine, network, site_id, today)
    summary.sites = [(2, "LOP Scheldeland Basisonderwijs", "BaO"), (3, "LOP Scheldeland Secundair Onderwijs", "SO")]
    with engine.begin() as conn:
        operator = _add_user(conn, network, "netwerkbeheer", "Netwerkbeheerder", {1: "administrator"})
        conn.execute(network.core.sitemeta.insert().values(site_id=1, meta_key="site_admins",
                                                            meta_value=serialize(["netwerkbeheer"])))
        expert_bao = _add_user(conn, network, "an.deskundige", "An Deskundige", {2: "administrator"})
        expert_so = _add_user(conn, network, "bert.deskundige", "Bert Deskundige", {3: "administrator"})
    summary.users += [(operator, "netwerkbeheer", "operator (super admin)"),
                      (expert_bao, "an.deskundige", "LOP expert of site 2"),
                      (expert_so, "bert.deskundige", "LOP expert of site 3")]
    fill_lop_sites(engine, network, today, {2: "BaO", 3: "SO"}, summary)
    return summary


class DemoDataError(ValueError):
    """The sites cannot take the demo data (not LOP sites, or not empty)."""


def fill_lop_sites(engine: Engine, network: Network, today: dt.date, levels: dict[int, str],
                   summary: DemoSummary | None = None) -> DemoSummary:
    """Fill existing, enabled and still empty LOP sites with the demo data: the catalogue (the codes it lacks),
    rights settings, ten schools per site with their offerings for the current and next school year, and a school
    admin per school (``directie.SITE.N``, a WordPress user without a password). ``levels`` maps a site to
    ``"BaO"`` (primary: BaO and BuBaO schools) or ``"SO"`` (secondary: SO and BuSO schools). Used by the SQLite
    demo (``seed_demo``) and by ``lop-sidecar demo-fill`` on a network WordPress installed (``wp-plugin/dev/up.sh``)."""
    summary = summary or DemoSummary()
    rng = random.Random(2026)
    with engine.connect() as conn:
        for site_id, level in levels.items():
            if level not in ("BaO", "SO"):
                raise DemoDataError(f"site {site_id}: level must be BaO or SO, not {level!r}")
            site = network.get_site(conn, site_id)
            if site is None or not site.enabled:
                raise DemoDataError(f"site {site_id} is not a LOP site (lop-sidecar sites enable {site_id})")
            if conn.execute(site_tables(site.prefix).schools.select().limit(1)).first() is not None:
                raise DemoDataError(f"site {site_id} has schools already: the demo data goes into empty sites only")
    current = current_school_year(today)
    years = (current, next_school_year(current))
    with engine.begin() as conn:
        catalogue_now = utcnow()
        admgr = network_tables(network.base_prefix).admgr
        known = set(conn.execute(admgr.select().with_only_columns(admgr.c.code)).scalars())
        missing = [row for row in catalogue_rows(catalogue_now) if row["code"] not in known]
        if missing:
            conn.execute(admgr.insert(), missing)

        settings, summary.free_registration_start = demo_settings(today)
        system = Actor(user_id=0, user_login="", user_role="system", source="cli")
        for site_id in levels:
            save_settings(conn, network.prefix(site_id), site_id, system, settings)

        instellingsnummer = 12000
        for site_id, level in levels.items():
            names, school_types = ((BAO_NAMES, ["BaO"] * 8 + ["BuBaO"] * 2) if level == "BaO"
                                   else (SO_NAMES, ["SO"] * 9 + ["BuSO"]))
            tables = site_tables(network.prefix(site_id))
            actor = system
            for index, (name, school_type) in enumerate(zip(names, school_types, strict=True)):
                instellingsnummer += rng.randint(3, 400)
                vestigingen = [(instellingsnummer, 1)] + ([(instellingsnummer, 2)] if index % 3 == 0 else [])
                school = create_school(conn, tables, site_id, actor, name=f"{name} {TOWNS[index]}",
                                       type=school_type, vestigingen=vestigingen)
                summary.schools += 1
                codes = BUSO_CODES if school_type == "BuSO" else SO_CODES if school_type == "SO" else BAO_CODES
                rows = []
                for year in years:
                    for code in codes:
                        capacity = rng.choice([20, 24, 25, 28, 50, 56, 75])
                        taken = rng.randint(0, capacity)
                        is_next = year == years[1]
                        rows.append({
                            "school_id": school["id"], "school_year": year, "admgr_code": code,
                            "capacity": capacity, "free_places": capacity - taken, "enrolled": taken if not is_next else rng.randint(0, taken),
                            "indicator_pct": rng.choice([None, 15, 22.5, 30]), "suffix": None,
                            "extra_info": "Infoavond: zie website" if code in (55001, 1001) else None,
                            "dates": None, "version": 1, "created_at": catalogue_now, "updated_at": catalogue_now,
                        })
                conn.execute(tables.offerings.insert(), rows)
                summary.offerings += len(rows)

                admin_login = f"directie.{site_id}.{index + 1}"
                admin_id = _add_user(conn, network, admin_login, f"Directie {name}", {site_id: "schoolbeheerder"})
                conn.execute(tables.school_admins.insert().values(
                    school_id=school["id"], user_id=admin_id, created_at=catalogue_now, created_by=None))
                if summary.school_admin_example is None and level == "SO":
                    summary.school_admin_example = (admin_id, site_id, school["id"])
                    summary.users.append((admin_id, admin_login, f"school admin of school {school['id']} on site {site_id}"))
    return summary
