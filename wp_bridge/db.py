"""Engines for the WordPress database: MySQL/MariaDB through mysql-connector, or embedded SQLite."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import re
import threading
import time
import weakref

from sqlalchemy import BindParameter, Connection, Engine, create_engine, event, literal_column
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.sql import visitors

from .tables import SIDECAR_CHARSET, SIDECAR_COLLATION

# Below MariaDB's default wait_timeout (28800 s) and the 3600 s that many managed servers set.
POOL_RECYCLE_SECONDS = 1800
CONNECT_TIMEOUT_SECONDS = 5
# A pooled connection idle for longer than this is pinged before it is used again (a server restart, a
# wait_timeout or a firewall may have closed it); one used more recently is trusted, and a request that
# finds it dead after all is retried once on a fresh connection (service.runtime).
IDLE_CHECK_SECONDS = 10
# For the API: a statement whose answer does not come (a frozen server, a cut network) fails after this
# instead of holding a worker forever. Jobs and commands have none: a long ALTER or DELETE is normal there.
SERVING_READ_TIMEOUT_SECONDS = 30
# MariaDB's default minus NO_AUTO_CREATE_USER, and strict for every table; no NO_ZERO_DATE: WordPress's
# columns default to '0000-00-00 00:00:00'.
SQL_MODE = "STRICT_ALL_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION"


def is_mysql(engine_or_conn) -> bool:
    return engine_or_conn.dialect.name in ("mysql", "mariadb")


def make_engine(url: str, *, pool_size: int = 5, autocommit: bool = False, ping_every_checkout: bool = False,
                read_timeout: int | None = None) -> Engine:
    """An engine with the options this service needs: connection checks and recycling on MySQL,
    a sane transaction and locking setup on SQLite. Query parameters are never put in error messages.
    ``autocommit`` (MySQL only): every statement commits on its own, for the API's reads and its nonces.
    A pooled connection is pinged before use only after 10 s idle (the API retries a request that meets a
    dead one), or on every checkout with ``ping_every_checkout`` (the scheduler and the commands: a job has
    no retry, and a ping per run costs nothing). ``read_timeout`` (seconds, MySQL): how long one statement may
    wait for the server's answer."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(
            parsed,
            hide_parameters=True,
            connect_args={"timeout": 30, "check_same_thread": False},
        )
        _configure_sqlite(engine, in_memory=parsed.database in (None, "", ":memory:"))
        return engine
    engine = create_engine(
        parsed,
        hide_parameters=True,
        pool_pre_ping=ping_every_checkout,
        pool_recycle=POOL_RECYCLE_SECONDS,
        pool_size=pool_size,
        max_overflow=pool_size,
        connect_args={
            "connection_timeout": CONNECT_TIMEOUT_SECONDS,
            "charset": SIDECAR_CHARSET,
            "collation": SIDECAR_COLLATION,
            "time_zone": "+00:00",  # everything the sidecar stores is UTC
            # Strict whatever the server's default: text a WordPress table's charset cannot hold (an emoji
            # into utf8mb3, "Ω" into latin1) fails with 1366 instead of being stored as "?".
            "sql_mode": SQL_MODE,
            **({"read_timeout": read_timeout, "write_timeout": read_timeout} if read_timeout else {}),
        },
        # Set once per new connection (create_engine's option), not per checkout as execution_options does.
        **({"isolation_level": "AUTOCOMMIT"} if autocommit else {}),
    )
    event.listen(engine, "do_connect", _connect_lean)
    event.listen(engine, "checkin", _release_held_locks)
    if not ping_every_checkout:
        _check_long_idle_connections(engine)
    if read_timeout:
        _wait_for_row_locks_less_than(engine, read_timeout)
    _options[engine] = {"pool_size": pool_size, "ping_every_checkout": ping_every_checkout, "read_timeout": read_timeout}
    return engine


_options: weakref.WeakKeyDictionary[Engine, dict] = weakref.WeakKeyDictionary()


_autocommit_twins: "weakref.WeakKeyDictionary[Engine, Engine]" = weakref.WeakKeyDictionary()


def autocommit_twin(engine: Engine) -> Engine:
    """An engine on the same MySQL database whose connections are in autocommit mode (its own pool, set
    once per connection, its other options those of ``engine``): a read sends no closing ROLLBACK and a
    nonce no separate COMMIT. On SQLite the engine itself. Disposed with ``engine``."""
    if not is_mysql(engine):
        return engine
    with _twins_lock:  # a gthread worker's first requests arrive together: one twin, one pool
        twin = _autocommit_twins.get(engine)
        if twin is None:
            options = _options.get(engine, {})
            twin = make_engine(engine.url.render_as_string(hide_password=False), **options, autocommit=True)
            _autocommit_twins[engine] = twin
            event.listen(engine, "engine_disposed", lambda _engine: twin.dispose())
    return twin


_twins_lock = threading.Lock()


@functools.lru_cache(maxsize=512)
def _driver_sql(statement, dialect) -> str:
    """The statement as SQL with its constants written in and ``%(name)s`` for each parameter left to give.
    A constant holding ``%`` is refused: the compiler doubles it for a pyformat driver, and mysql-connector
    undoes that only where it fills in parameters."""
    names = set()

    def parameter_placeholder(element):
        if isinstance(element, BindParameter) and element.required:
            names.add(element.key)
            return literal_column(f"%({element.key})s")
        return None

    with_placeholders = visitors.replacement_traverse(statement, {}, parameter_placeholder)
    sql = str(with_placeholders.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    for name in names:  # the compiler escaped them as text for a pyformat driver
        sql = sql.replace(f"%%({name})s", f"%({name})s")
    if "%" in re.sub(r"%\((\w+)\)s", lambda m: "" if m.group(1) in names else m.group(0), sql):
        raise ValueError("run_fixed: a constant with '%' cannot be written into the SQL; pass it as a parameter")
    return sql


def run_fixed(conn: Connection, statement, params: dict | None = None) -> list[tuple]:
    """Run one of the fixed statements that every request runs (built once, cached by the caller) and return
    its rows as tuples. On MySQL it goes to the driver as SQL compiled once with its constants written in:
    SQLAlchemy's and the driver's per-execution work on such a statement (two dozen literals converted and
    escaped, an execution context, the result's metadata built anew) cost more client CPU than the round
    trip. The driver still escapes the parameters; its errors are SQLAlchemy's, a dead connection
    invalidated as SQLAlchemy would. On SQLite the statement is executed as usual."""
    if not is_mysql(conn):
        result = conn.execute(statement, params or {})
        return [tuple(row) for row in result] if result.returns_rows else []
    sql = _driver_sql(statement, conn.dialect)
    pooled = conn.connection
    cursor = None
    try:
        cursor = pooled.dbapi_connection.cursor()
        cursor.execute(sql, params or None)
        return cursor.fetchall() if cursor.description else []
    except conn.dialect.loaded_dbapi.Error as error:
        lost = conn.dialect.is_disconnect(error, pooled.dbapi_connection, cursor)
        if lost:  # as SQLAlchemy does: the server went away for every connection of the pool, not just this one
            conn.engine.pool._invalidate(pooled, error)
            conn.invalidate(error)
        raise DBAPIError.instance(sql, params, error, conn.dialect.loaded_dbapi.Error, hide_parameters=True,
                                  connection_invalidated=lost, dialect=conn.dialect) from error
    finally:
        if cursor is not None:
            with contextlib.suppress(Exception):
                cursor.close()


def _wait_for_row_locks_less_than(engine: Engine, read_timeout: int) -> None:
    """A statement waiting for a row lock gives up (1205, 'try again') before the client's read timeout
    would cut the connection while the server session still waits holding its locks."""
    seconds = max(1, read_timeout * 2 // 3)

    @event.listens_for(engine, "connect")
    def shorter_lock_wait(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute(f"SET SESSION innodb_lock_wait_timeout = {int(seconds)}")
        cursor.close()


def _check_long_idle_connections(engine: Engine) -> None:
    """Instead of pinging on every checkout (a round trip per request), ping only a connection that sat idle
    in the pool long enough to have been closed; a dead one is replaced (the pool tries the next). Once a
    ping failed, a connection idle since before then is taken for dead without its own ping: on a frozen
    server each ping would wait out the read timeout."""
    failed_at = [float("-inf")]

    @event.listens_for(engine, "checkin")
    def note_idle_since(_dbapi_connection, record):
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def ping_if_idle_long(dbapi_connection, record, _proxy):
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since <= IDLE_CHECK_SECONDS:
            return
        if idle_since < failed_at[0]:
            raise DisconnectionError("idle since before a ping to this server failed")
        try:
            dbapi_connection.ping(False)
        except Exception as error:  # whatever the driver raises, the connection is unusable
            failed_at[0] = time.monotonic()
            raise DisconnectionError("a pooled connection idle for long no longer answers") from error


# Named locks a transaction holds (wp_bridge.locks.lock_for_transaction), in the connection's info.
HELD_LOCKS = "lop_transaction_locks"


def _release_held_locks(dbapi_connection, record) -> None:
    """A connection given back to the pool while it still holds a transaction's named lock (a caller that
    forgot, or a release that failed) lets go of it here: MySQL's locks outlive transactions."""
    if not record.info.pop(HELD_LOCKS, None) or dbapi_connection is None:
        return
    try:
        cursor = dbapi_connection.cursor()
        cursor.execute("DO RELEASE_ALL_LOCKS()")
        cursor.close()
    except Exception:  # noqa: BLE001 — a connection that cannot even do this is discarded, and with it its locks
        record.invalidate()


def _lean_connection_class():
    """mysql-connector's C connection without three costs that every request paid (tests/test_db.py holds
    it to the stock driver's behaviour):

    - ``cursor()`` no longer pings the server before every statement (its ``is_connected()`` is a round
      trip), which doubled the round trips. A dead connection is still caught: the pool pings one that was
      idle for long on checkout, and a connection lost otherwise fails its statement with an error that
      SQLAlchemy treats as a disconnect (the request is then retried once: service.runtime).
    - ``rollback()`` and ``commit()`` outside a transaction (the pool's reset after a commit, a commit in
      autocommit mode) cost no round trip.
    - ``get_rows`` reads plain results without a Python pass over every column of every row.

    None without the C extension (the pure-Python driver is used unchanged then)."""
    try:
        import _mysql_connector
        from mysql.connector.connection_cext import CMySQLConnection
    except ImportError:
        return None
    if CMySQLConnection is None:
        return None

    from mysql.connector.constants import FieldType
    from mysql.connector.errors import InterfaceError, get_mysql_exception

    vector = getattr(FieldType, "VECTOR", None)

    class LeanCMySQLConnection(CMySQLConnection):
        def is_connected(self) -> bool:
            return bool(self._cmysql is not None and self._cmysql.connected())

        # The server reports in every OK packet whether a transaction is open, but not in an error packet:
        # after a failed statement (which may have opened a transaction and taken locks) the flag is stale.
        _status_stale = False

        def cmd_query(self, *args, **kwargs):
            try:
                return super().cmd_query(*args, **kwargs)
            except Exception:
                self._status_stale = True
                raise

        def _nothing_open(self) -> bool:
            """The server said (in its last OK packet) that no transaction is open, and nothing since failed."""
            return self._cmysql is not None and not (self._status_stale or self.in_transaction or self.unread_result)

        def commit(self) -> None:
            if self._nothing_open():
                return  # autocommit, or a read-only MyISAM statement: nothing to commit
            try:
                super().commit()
            except Exception:
                self._status_stale = True
                raise
            self._status_stale = False

        def rollback(self) -> None:
            # The pool rolls back every connection it takes back, also right after a commit; without a
            # transaction a ROLLBACK changes nothing: skip its round trip when the server said so.
            if self._nothing_open():
                return
            super().rollback()
            self._status_stale = False

        def get_rows(self, count=None, binary=False, columns=None, raw=None, prep_stmt=None, **kwargs):
            """All rows of a result as the C extension converts them. The stock method also walks every
            column of every row in Python (looking for VECTOR columns) and copies each row into a list and
            back: most of the time of reading 8,000 rows. Anything unusual takes the stock path."""
            if (count is not None or prep_stmt is not None or raw or self._raw or self.converter
                    or not self._cmysql or not self.unread_result or self._cmysql.raw()
                    or any(column[1] == vector for column in self._columns)):
                try:
                    return super().get_rows(count=count, binary=binary, columns=columns, raw=raw,
                                            prep_stmt=prep_stmt, **kwargs)
                except Exception:
                    self._status_stale = True
                    raise
            rows = []
            fetch_row = self._cmysql.fetch_row
            try:
                row = fetch_row()
                while row:
                    rows.append(tuple(row))
                    row = fetch_row()
                eof = self.fetch_eof_columns()["eof"]
            except _mysql_connector.MySQLInterfaceError as err:
                self._status_stale = True
                self.free_result()
                if hasattr(err, "errno"):
                    raise get_mysql_exception(err.errno, msg=err.msg, sqlstate=err.sqlstate) from err
                raise InterfaceError(str(err)) from err
            self.free_result()
            return rows, eof

    return LeanCMySQLConnection


_LEAN_CONNECTION = _lean_connection_class()


# Options for which mysql.connector.connect() does more than construct a connection.
_SPECIAL_CONNECT_OPTIONS = {"use_pure", "option_files", "read_default_file", "failover", "pool_name", "pool_size", "dns_srv"}


def _connect_lean(_dialect, _record, cargs, cparams):
    if _LEAN_CONNECTION is None or _SPECIAL_CONNECT_OPTIONS & set(cparams):
        return None  # let SQLAlchemy connect the usual way
    return _LEAN_CONNECTION(*cargs, **cparams)


def _configure_sqlite(engine: Engine, *, in_memory: bool) -> None:
    # pysqlite's own transaction handling defers BEGIN and skips it before DDL; take it over so that a
    # transaction really covers everything between begin() and commit() (SQLAlchemy's documented recipe).
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        # IMMEDIATE: every request writes (its nonce); taking the write lock up front avoids the
        # SQLITE_BUSY a deferred transaction gets when it must upgrade its lock behind another writer.
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def utcnow() -> dt.datetime:
    """Naive UTC with microseconds: what the DATETIME columns store."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
