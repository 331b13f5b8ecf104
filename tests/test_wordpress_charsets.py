"""WordPress tables in any collation and charset (issue 12): the network WordPress installed mixes
utf8mb4_general_ci and utf8mb4_unicode_520_ci; its legacy variant has utf8mb3 and latin1 tables."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from service import create_app
from service.cli import main
from tests.conftest import SignedClient, make_config
from tests.test_schools import create as create_school_response
from wp_bridge.db import make_engine
from wp_bridge.errors import describe_database_error
from wp_bridge.options import get_option, set_option

NAME = "Sint-Jozef’s École – Zoë"


def create_school(client, user) -> int:
    response = create_school_response(client, user)
    assert response.status_code == 201, response.json
    return response.json["id"]


def test_the_collations_really_are_mixed(wordpress_databases):
    """The rig itself: without a real mix, the other tests here would prove nothing."""
    engine = make_engine(wordpress_databases.new_wordpress_url())
    with engine.connect() as conn:
        collations = dict(conn.execute(text(
            "SELECT table_name, table_collation FROM information_schema.tables WHERE table_schema = DATABASE()")).all())
    engine.dispose()
    if wordpress_databases.backend == "mysql":
        assert collations["wp_options"] == "utf8mb4_general_ci"
        assert collations["wp_2_options"] == "utf8mb4_unicode_520_ci"
    else:
        assert collations["wp_users"] == "latin1_swedish_ci" and collations["wp_2_options"] == "latin1_swedish_ci"
        assert collations["wp_usermeta"] == "utf8mb3_general_ci" and collations["wp_options"] == "utf8mb3_general_ci"


def test_migrate_and_the_sites_list_on_the_network_wordpress_installed(wordpress_databases, monkeypatch, capsys):
    url = wordpress_databases.new_wordpress_url()
    monkeypatch.setenv("LOP_DATABASE_URL", url)
    assert main(["migrate"]) == 0, capsys.readouterr().err
    assert main(["sites", "enable", "2"]) == 0, capsys.readouterr().err
    capsys.readouterr()
    assert main(["sites", "list"]) == 0
    rows = [line.split()[:2] for line in capsys.readouterr().out.splitlines()[1:]]
    assert rows == [["1", "no"], ["2", "yes"], ["3", "no"]]


@pytest.fixture
def site_name(rt):
    """Site 2's blogname, given back afterwards (the session's database is shared by the tests)."""
    from wp_bridge.options import get_option

    with rt.engine.connect() as conn:
        before = get_option(conn, "wp_2_", "blogname")
    yield
    with rt.engine.begin() as conn:
        conn.execute(text("UPDATE wp_2_options SET option_value = :v WHERE option_name = 'blogname'"), {"v": before})


def test_text_from_old_charsets_reads_as_unicode(client, rt, users, site_name):
    with rt.engine.begin() as conn:
        conn.execute(text("UPDATE wp_2_options SET option_value = :v WHERE option_name = 'blogname'"), {"v": NAME})
        conn.execute(text("UPDATE wp_users SET display_name = :v WHERE ID = :id"), {"v": "Zoë D’Hondt", "id": users.admin2})
    sites = client.get("/api/v1/sites", user=users.operator)
    assert sites.status_code == 200, sites.json
    assert {s["id"]: s["name"] for s in sites.json["sites"]}[2] == NAME
    school = create_school(client, users.expert2)
    linked = client.post(f"/api/v1/sites/2/schools/{school}/admins", user=users.expert2,
                         json={"email": "admin2@example.org"})
    assert linked.status_code in (200, 201), linked.json
    stats = client.get("/api/v1/sites/2/school-stats", user=users.expert2)
    assert [a["display_name"] for s in stats.json["schools"] for a in s["admins"]] == ["Zoë D’Hondt"]


def test_text_a_table_cannot_hold_is_refused_never_mangled(wordpress_databases):
    """An emoji into a latin1 (legacy) options table: strict mode refuses it with 1366; the API answers 422
    naming the table; the old value stays. The utf8mb4 network stores it."""
    url = wordpress_databases.new_wordpress_url()
    engine = make_engine(url)
    app = create_app(make_config(url))
    refused = None
    try:
        with engine.begin() as conn:
            set_option(conn, "wp_2_", "blogname", "LOP 🙂")
    except DBAPIError as exc:
        refused = exc
    with engine.connect() as conn:
        stored = get_option(conn, "wp_2_", "blogname")
    engine.dispose()
    if wordpress_databases.backend == "mysql":
        assert refused is None and stored == "LOP 🙂"
    else:
        with app.test_request_context():  # what a request that hit this would answer
            response = app.make_response(app.handle_user_exception(refused))
        assert response.status_code == 422
        assert response.json["code"] == "text_not_storable"
        assert "wp_2_options" in response.json["detail"] and "option_value" in response.json["detail"]
        assert stored == "LOP Test BaO"


def test_the_database_error_names_its_cause_without_values(wordpress_databases, monkeypatch, capsys, caplog):
    url = wordpress_databases.new_wordpress_url()
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE wp_blogs DROP COLUMN deleted"))  # a damaged install
        with pytest.raises(DBAPIError) as mix:  # what the sidecar's queries did before wp_text()
            conn.execute(text("SELECT CONVERT(option_name USING utf8mb4) COLLATE utf8mb4_general_ci FROM wp_options UNION "
                              "SELECT CONVERT(option_name USING utf8mb4) COLLATE utf8mb4_unicode_520_ci FROM wp_2_options"))
        with pytest.raises(DBAPIError) as duplicate:
            conn.execute(text("INSERT INTO wp_users (ID, user_login) VALUES (1, 'geheim-login')"))
    engine.dispose()
    assert describe_database_error(mix.value).split()[0] in ("1267", "1271")
    assert "Illegal mix of collations" in describe_database_error(mix.value)
    assert describe_database_error(mix.value).endswith("for operation 'UNION'")
    assert describe_database_error(duplicate.value) == "1062 Duplicate entry '…' for key '…'"

    monkeypatch.setenv("LOP_DATABASE_URL", url)
    assert main(["sites", "list"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("lop-sidecar: database error: 1054 Unknown column 'wp_blogs.deleted' in '")
    assert err.endswith("' (check LOP_DATABASE_URL and the database)\n") and "SELECT " not in err

    client = create_app(make_config(url)).test_client()
    with caplog.at_level(logging.ERROR, logger="lop_sidecar.errors"):
        response = client.get("/api/v1/health")
    assert response.status_code in (200, 503)
    with caplog.at_level(logging.ERROR, logger="lop_sidecar.errors"):
        response = SignedClient(client).get("/api/v1/sites", user=1)
    assert response.status_code == 500 and "SELECT" not in response.get_data(as_text=True)
    line = next(r.getMessage() for r in caplog.records if r.getMessage().startswith("unhandled"))
    assert "ProgrammingError: 1146 Table '" in line and "wp_lop_request_nonces' doesn't exist" in line  # not migrated
    assert response.json["request_id"] in line and "SELECT" not in line


def test_wp_text_statements_are_cacheable_and_keep_their_columns():
    """The per-request UNION is compiled once: wp_text() has a cache key, and one that tells columns apart."""
    from wp_bridge.tables import core_site_tables, wp_text

    options = core_site_tables("wp_2_").options
    name, value = wp_text(options.c.option_name), wp_text(options.c.option_value)
    assert name._generate_cache_key() is not None
    assert name._generate_cache_key() != value._generate_cache_key()
    assert name._generate_cache_key() == wp_text(options.c.option_name)._generate_cache_key()
