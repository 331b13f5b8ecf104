"""The MySQL engine's connection handling: no ping before every statement, recovery from connections
the server dropped. MySQL only: these are mysql-connector's behaviours (SQLite has no
server to lose)."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from wp_bridge.db import make_engine

from .conftest import MYSQL_URL


@pytest.fixture
def engine():
    engine = make_engine(MYSQL_URL)
    yield engine
    engine.dispose()


@pytest.fixture
def server():
    server = create_engine(MYSQL_URL, isolation_level="AUTOCOMMIT")
    yield server
    server.dispose()


def pings(conn) -> int:
    """COM_PING commands this session has sent (MariaDB counts them as admin commands)."""
    return int(conn.execute(text("SHOW SESSION STATUS LIKE 'Com_admin_commands'")).one()[1])


def session_id(engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT CONNECTION_ID()")).scalar_one())


def test_statements_do_not_ping_the_server(engine):
    with engine.connect() as conn:
        before = pings(conn)
        for _ in range(5):
            conn.execute(text("SELECT 1")).all()
        # The stock driver pings in every cursor(): five statements and the status query would add six.
        assert pings(conn) == before


def test_a_connection_dropped_by_the_server_is_replaced_on_checkout(engine, server):
    first = session_id(engine)
    with server.connect() as conn:
        conn.execute(text(f"KILL CONNECTION {first}"))
    assert session_id(engine) != first  # the checkout's ping failed: the pool reconnected, no error
