"""The MySQL engine's connection handling: no ping before every statement, recovery from connections
the server dropped. MySQL only: these are mysql-connector's behaviours (SQLite has no
server to lose)."""

from __future__ import annotations

import time
import uuid

import pytest
from sqlalchemy import create_engine, exc, text

from wp_bridge import db
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


def rollbacks(conn) -> int:
    return int(conn.execute(text("SHOW SESSION STATUS LIKE 'Com_rollback'")).one()[1])


def test_a_connection_returned_after_a_commit_is_not_rolled_back_again(engine):
    with engine.connect() as conn:
        before = rollbacks(conn)
        conn.commit()
    with engine.connect() as conn:  # the same pooled connection: the pool's reset sent no ROLLBACK
        assert rollbacks(conn) == before


@pytest.fixture
def scratch(engine, server):
    """A scratch database with one InnoDB table ``t (n INT PRIMARY KEY)``."""
    name = f"lop_test_scratch_{uuid.uuid4().hex[:8]}"
    with server.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
        conn.execute(text(f"CREATE TABLE {name}.t (n INT PRIMARY KEY) ENGINE=InnoDB"))
    yield name
    engine.dispose()  # a transaction left open by a failed test must not block the DROP
    with server.connect() as conn:
        conn.execute(text(f"DROP DATABASE {name}"))


def test_a_rollback_inside_a_transaction_still_undoes_the_change(engine, scratch):
    with engine.connect() as conn:
        conn.execute(text(f"INSERT INTO {scratch}.t VALUES (1)"))
        conn.rollback()
        assert conn.execute(text(f"SELECT COUNT(*) FROM {scratch}.t")).scalar_one() == 0


def test_a_failed_statement_s_locks_are_released_when_the_connection_goes_back(engine, server, scratch):
    """A duplicate-key error leaves a transaction holding a lock on the existing row, while the server's
    status flag still says "no transaction" (error packets do not carry it): the reset must roll back."""
    with engine.begin() as conn:
        conn.execute(text(f"INSERT INTO {scratch}.t VALUES (1)"))
    with engine.connect() as conn:
        with pytest.raises(exc.IntegrityError):
            conn.execute(text(f"INSERT INTO {scratch}.t VALUES (1)"))
    with server.connect() as other:
        other.execute(text("SET SESSION innodb_lock_wait_timeout = 2"))
        assert other.execute(text(f"DELETE FROM {scratch}.t WHERE n = 1")).rowcount == 1


def test_a_connection_idle_for_long_that_the_server_dropped_is_replaced_on_checkout(engine, server, monkeypatch):
    first = session_id(engine)
    with server.connect() as conn:
        conn.execute(text(f"KILL CONNECTION {first}"))
    later = time.monotonic() + db.IDLE_CHECK_SECONDS + 1
    monkeypatch.setattr(db.time, "monotonic", lambda: later)
    assert session_id(engine) != first  # the checkout's ping failed: the pool reconnected, no error


def test_a_connection_used_a_moment_ago_is_not_pinged_on_checkout(engine):
    with engine.connect() as conn:
        before = pings(conn)
    with engine.connect() as conn:  # the same pooled connection
        assert pings(conn) == before


def test_the_autocommit_twin_commits_each_statement_without_a_commit_of_its_own(engine, scratch):
    twin = db.autocommit_twin(engine)
    assert db.autocommit_twin(engine) is twin
    with twin.connect() as conn:
        commits = int(conn.execute(text("SHOW SESSION STATUS LIKE 'Com_commit'")).one()[1])
        conn.execute(text(f"INSERT INTO {scratch}.t VALUES (7)"))
        conn.commit()  # nothing open: no COMMIT sent
        assert int(conn.execute(text("SHOW SESSION STATUS LIKE 'Com_commit'")).one()[1]) == commits
    with engine.connect() as other:  # durable at once, seen by another connection
        assert other.execute(text(f"SELECT COUNT(*) FROM {scratch}.t WHERE n = 7")).scalar_one() == 1
    assert twin.pool.checkedin() == 1
    engine.dispose()
    assert twin.pool.checkedin() == 0  # disposed with its engine


def test_rows_read_by_the_fast_path_equal_the_stock_driver_s(engine):
    """wp_bridge.db replaces mysql-connector's get_rows for plain results: every column type the sidecar
    uses must come back exactly as the stock driver returns it."""
    import mysql.connector
    from sqlalchemy.engine import make_url

    query = ("SELECT 1, CAST(-5 AS SIGNED), CAST(18446744073709551615 AS UNSIGNED), CAST(12.34 AS DECIMAL(5,2)), "
             "1.5e0, 'tekst met é', CAST('x' AS BINARY), NULL, CAST('2027-03-28 01:00:00.123456' AS DATETIME(6)), "
             "CAST('2027-03-28' AS DATE), CAST('12:34:56' AS TIME), JSON_OBJECT('a', 1), REPEAT('lang', 5000) "
             "UNION ALL SELECT 2, NULL, NULL, NULL, NULL, '', NULL, NULL, NULL, NULL, NULL, NULL, NULL")
    with engine.connect() as conn:
        fast = [tuple(row) for row in conn.execute(text(query))]
        assert type(conn.connection.dbapi_connection).__name__ == "LeanCMySQLConnection"
    url = make_url(MYSQL_URL)
    stock = mysql.connector.connect(host=url.host, port=url.port or 3306, user=url.username, password=url.password or "")
    try:
        cursor = stock.cursor(buffered=True)
        cursor.execute(query)
        assert fast == [tuple(row) for row in cursor.fetchall()]
    finally:
        stock.close()


def test_an_error_in_the_middle_of_the_rows_is_the_driver_s_error_and_the_connection_stays_usable(engine):
    # MariaDB sends rows 1 and 2, then fails on row 3 (the subquery returns two rows there).
    failing = text("SELECT IF(seq < 3, seq, (SELECT 1 UNION SELECT 2)) FROM mysql.seq_1_to_5")
    with engine.connect() as conn:
        with pytest.raises(exc.DBAPIError, match="Subquery returns more than 1 row"):
            conn.execute(failing).all()
        conn.rollback()
        assert conn.execute(text("SELECT 7")).scalar_one() == 7
