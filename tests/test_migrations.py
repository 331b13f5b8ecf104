"""Migrations: idempotent on both backends; WordPress core tables are never created on a real install."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import inspect, select

from rules.school_year import current_school_year
from wp_bridge.db import make_engine
from wp_bridge.errors import DataError
from wp_bridge.migrations import (
    NETWORK_SCHEMA_VERSION,
    SITE_SCHEMA_VERSION,
    migrate,
    schema_status,
)
from wp_bridge.options import get_option
from wp_bridge.site_admin import disable_site, enable_site
from wp_bridge.sites import Network
from wp_bridge.tables import core_global_tables, core_site_tables, site_tables
from wp_bridge.wp_install import add_site, install_network


@pytest.fixture
def fresh(databases):
    engine = make_engine(databases.new_url())
    yield engine
    engine.dispose()


def schema_of(engine) -> dict:
    inspector = inspect(engine)
    return {
        name: (
            [(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(name)],
            sorted((i["name"], tuple(i["column_names"])) for i in inspector.get_indexes(name)),
        )
        for name in sorted(inspector.get_table_names())
    }


def test_refuses_a_database_without_wordpress(fresh):
    with pytest.raises(DataError) as error:
        migrate(fresh, Network("wp_"))
    assert error.value.code == "wordpress_tables_missing"
    assert inspect(fresh).get_table_names() == []  # nothing created, core tables least of all


def test_migrate_is_idempotent(fresh):
    network = Network("wp_")
    with fresh.begin() as conn:
        install_network(conn, network)
        add_site(conn, network, 2, domain="localhost", path="/two/", name="Two")
    enable_site(fresh, network, 2, dt.date(2026, 11, 28))
    first_schema = schema_of(fresh)
    assert "wp_lop_admgr" in first_schema and "wp_2_lop_offerings" in first_schema
    assert "wp_lop_offerings" not in first_schema  # site 1 is not a LOP site

    second = migrate(fresh, network)
    assert not second.changed
    assert schema_of(fresh) == first_schema
    with fresh.connect() as conn:
        assert schema_status(conn, network) == NETWORK_SCHEMA_VERSION
        assert get_option(conn, "wp_2_", "lop_sidecar_site_db_version") == str(SITE_SCHEMA_VERSION)


def test_version_1_schema_gains_the_version_2_columns_and_stages(fresh):
    """A database migrated by the first release: the new columns are added in place, the catalogue's stage
    is filled from level and description, and the result equals a fresh install."""
    from sqlalchemy import text

    from wp_bridge.options import set_option
    from wp_bridge.tables import network_tables

    network = Network("wp_")
    with fresh.begin() as conn:
        install_network(conn, network)
        add_site(conn, network, 2, domain="localhost", path="/two/", name="Two")
    enable_site(fresh, network, 2, dt.date(2026, 11, 28))
    fresh_schema = schema_of(fresh)
    nt = network_tables("wp_")
    dropped = [("wp_lop_admgr", "stage"), ("wp_lop_mail_outbox", "user_id"), ("wp_lop_mail_outbox", "purpose"),
               ("wp_2_lop_audit_log", "offering"), ("wp_2_lop_audit_log", "school_name"),
               ("wp_2_lop_free_places_snapshots", "kind")]
    with fresh.begin() as conn:
        conn.execute(text("DROP INDEX wp_lop_mail_outbox_site" + (" ON wp_lop_mail_outbox" if fresh.dialect.name == "mysql" else "")))
        for table, column in dropped:
            conn.execute(text(f"ALTER TABLE {table} DROP COLUMN {column}"))
        set_option(conn, "wp_", "lop_sidecar_db_version", "1")
        set_option(conn, "wp_2_", "lop_sidecar_site_db_version", "1")
        conn.execute(text("INSERT INTO wp_lop_admgr (code, description, onderwijsniveau, active, updated_at, search_text) "
                          "VALUES (1001, 'Kleuteronderwijs - instapklas', 'BaO', 1, '2026-01-01', ''), "
                          "(1011, 'Lager onderwijs - 1ste leerjaar', 'BaO', 1, '2026-01-01', ''), "
                          "(2001, '1A', 'SO', 1, '2026-01-01', ''), (9001, 'Iets', NULL, 1, '2026-01-01', ''), "
                          "(10000, 'Anderstalige nieuwkomers', 'BaO', 1, '2026-01-01', '')"))
    report = migrate(fresh, network)
    assert report.applied == [
        "network: v2 catalogue stage (kleuter, lager, secundair), filled from level and description; outbox addressee and purpose",
        "site 2: v2 audit log: the offering and school name at the time; snapshot kind"]
    assert schema_of(fresh) == fresh_schema
    with fresh.connect() as conn:
        stages = dict(conn.execute(select(nt.admgr.c.code, nt.admgr.c.stage)).all())
        an_words = conn.execute(select(nt.admgr.c.search_text).where(nt.admgr.c.code == 10000)).scalar_one().split()
    assert stages == {1001: "kleuter", 1011: "lager", 2001: "secundair", 9001: None, 10000: None}  # AN: no stage
    assert {"an", "anderstalige", "nieuwkomers"} <= set(an_words)  # AN found as "AN" after the upgrade too


def test_enable_sets_the_school_year_and_disable_keeps_data(fresh):
    network = Network("wp_")
    with fresh.begin() as conn:
        install_network(conn, network)
        add_site(conn, network, 4, domain="localhost", path="/four/", name="Four")
    report = enable_site(fresh, network, 4, dt.date(2027, 8, 1))
    assert any("site 4" in line for line in report.applied)
    with fresh.connect() as conn:
        site = network.get_site(conn, 4)
    assert site.enabled and site.current_school_year == current_school_year(dt.date(2027, 8, 1)) == "2027-2028"

    assert disable_site(fresh, network, 4) is True
    assert disable_site(fresh, network, 4) is False
    with fresh.connect() as conn:
        log = site_tables("wp_4_").audit_log
        assert [(r.action, r.source, r.user_role) for r in conn.execute(select(log).order_by(log.c.id))] == [
            ("enable", "cli", "system"), ("disable", "cli", "system")]
    assert "wp_4_lop_schools" in inspect(fresh).get_table_names()
    # Enabling again keeps the stored school year and has no schema work left to do.
    again = enable_site(fresh, network, 4, dt.date(2030, 1, 1))
    assert again.applied == ["site 4: enabled as LOP site"]
    with fresh.connect() as conn:
        assert network.get_site(conn, 4).current_school_year == "2027-2028"


def test_enabling_an_unknown_site_fails_cleanly(fresh):
    network = Network("wp_")
    with fresh.begin() as conn:
        install_network(conn, network)
    with pytest.raises(DataError) as error:
        enable_site(fresh, network, 9, dt.date(2026, 1, 1))
    assert error.value.code == "site_not_found"


def test_a_newer_schema_is_refused(fresh):
    from wp_bridge.options import set_option

    network = Network("wp_")
    with fresh.begin() as conn:
        install_network(conn, network)
        set_option(conn, "wp_", "lop_sidecar_db_version", str(NETWORK_SCHEMA_VERSION + 1))
    with pytest.raises(DataError) as error:
        migrate(fresh, network)
    assert error.value.code == "schema_too_new"


def test_custom_table_prefix(fresh):
    network = Network("lop7_")
    with fresh.begin() as conn:
        install_network(conn, network)
        add_site(conn, network, 2, domain="localhost", path="/x/", name="X")
    enable_site(fresh, network, 2, dt.date(2026, 9, 1))
    names = set(inspect(fresh).get_table_names())
    assert {"lop7_users", "lop7_lop_admgr", "lop7_2_lop_schools", "lop7_2_options"} <= names


def test_single_site_install_is_site_1(fresh):
    """A WordPress without multisite tables: site 1 only, no super admins, administrators are LOP experts."""
    from service import create_app
    from service.runtime import Runtime
    from tests.conftest import SignedClient, add_user, make_config

    network = Network("wp_")
    core = core_global_tables("wp_")
    with fresh.begin() as conn:
        for table in (core.users, core.usermeta, core_site_tables("wp_").options):
            table.create(conn)
        conn.execute(core_site_tables("wp_").options.insert(), [
            {"option_name": "siteurl", "option_value": "https://lop-klein.example"},
            {"option_name": "blogname", "option_value": "LOP Klein"}])
        expert = add_user(conn, network, "expert", {1: "administrator"})
    enable_site(fresh, network, 1, dt.date(2026, 9, 1))
    assert "wp_blogs" not in inspect(fresh).get_table_names()

    runtime = Runtime(make_config(str(fresh.url.render_as_string(hide_password=False))), fresh, network)
    client = SignedClient(create_app(runtime=runtime).test_client())
    sites = client.get("/api/v1/sites", user=expert).json["sites"]
    assert sites == [{"id": 1, "name": "LOP Klein", "url": "https://lop-klein.example",
                      "current_school_year": "2026-2027", "status": "live", "role": "lop_expert"}]
    created = client.post("/api/v1/sites/1/schools", user=expert, json={
        "name": "Basisschool", "type": "BaO", "vestigingen": [{"instellingsnummer": 1, "vestigingsnummer": 1}]})
    assert created.status_code == 201
    assert client.get("/api/v1/sites/2/schools", user=expert).status_code == 404
