"""The MySQL engine's connection handling: no ping before every statement, a ping after idling, recovery
from connections the server dropped. MySQL only: these are mysql-connector's behaviours (SQLite has no
server to lose)."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, exc, text

import wp_bridge.db as db
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


def test_a_busy_connection_is_not_pinged_on_checkout(engine):
    with engine.connect() as conn:
        before = pings(conn)
    with engine.connect() as conn:
        assert pings(conn) == before


def test_an_idle_connection_is_pinged_and_replaced_when_the_server_dropped_it(engine, server, monkeypatch):
    first = session_id(engine)
    with server.connect() as conn:
        conn.execute(text(f"KILL CONNECTION {first}"))
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)
    second = session_id(engine)  # the checkout's ping fails: the pool reconnects, no error reaches the caller
    assert second != first
    with engine.connect() as conn:
        assert pings(conn) >= 1  # this checkout pinged too


def test_a_connection_dropped_while_busy_fails_one_statement_then_the_pool_recovers(engine, server):
    first = session_id(engine)
    with server.connect() as conn:
        conn.execute(text(f"KILL CONNECTION {first}"))
    with pytest.raises(exc.DBAPIError) as raised:
        session_id(engine)
    assert raised.value.connection_invalidated  # the API turns this into a 503 (tests/test_health.py)
    assert session_id(engine) != first
