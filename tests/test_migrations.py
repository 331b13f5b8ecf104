"""Migrations: idempotent on both backends; WordPress core tables are never created on a real install."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import inspect

from rules.school_year import current_school_year
from wp_bridge.db import make_engine
from wp_bridge.errors import DataError
from wp_bridge.migrations import NETWORK_SCHEMA_VERSION, SITE_SCHEMA_VERSION, migrate, schema_status
from wp_bridge.options import get_option
from wp_bridge.site_admin import disable_site, enable_site
from wp_bridge.sites import Network
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
