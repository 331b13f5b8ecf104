"""What a running app or command holds: configuration, the engine and the WordPress network; and the
database connections of one API request."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass

from flask import current_app, g, has_request_context, request
from sqlalchemy import Connection, Engine, event
from sqlalchemy.exc import DBAPIError

from wp_bridge.db import SERVING_READ_TIMEOUT_SECONDS, autocommit_twin, make_engine
from wp_bridge.locks import release_transaction_locks
from wp_bridge.sites import Network
from wp_bridge.tables import network_tables

from .config import Config

log = logging.getLogger("lop_sidecar.db")


@dataclass
class Runtime:
    config: Config
    engine: Engine
    network: Network

    @classmethod
    def from_config(cls, config: Config, *, serving: bool = False) -> Runtime:
        """``serving``: for the API, whose requests are retried on a dead connection, so that a pooled one is
        only pinged after 10 s idle, and whose statements wait at most 30 s for the server's answer; the
        scheduler and the commands ping on every checkout and wait as long as a statement takes."""
        engine = make_engine(config.database_url, ping_every_checkout=not serving,
                             read_timeout=SERVING_READ_TIMEOUT_SECONDS if serving else None)
        return cls(config, engine, Network(config.table_prefix, config.network_id))

    @property
    def read_engine(self) -> Engine:
        """The engine in autocommit mode (on SQLite: ``engine``) for the API's reads and its nonces."""
        return autocommit_twin(self.engine)

    @property
    def network_tables(self):
        return network_tables(self.config.table_prefix)

    def today(self) -> dt.date:
        """Today's date in the LOP's time zone (Europe/Brussels by default)."""
        return dt.datetime.now(self.config.tz).date()


def runtime() -> Runtime:
    return current_app.extensions["lop_sidecar"]


# A read (these methods) runs in autocommit mode: three statements for a signed read — the nonce, the
# site/user/roles, the data — and no closing ROLLBACK. Any other method runs in one transaction that
# write_transaction() commits.
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def db() -> Connection:
    """The request's connection: checked out once, closed (and rolled back if left open) at teardown."""
    conn = g.get("db_conn")
    if conn is None:
        rt = runtime()
        conn = g.db_conn = (rt.read_engine if request.method in READ_METHODS else rt.engine).connect()
    return conn


def write_db() -> Connection:
    """The connection a change is written on: the request's own. A read (GET …) writes nothing: its own
    connection is in autocommit mode, where no transaction could hold a change and its audit rows together."""
    if request.method in READ_METHODS and runtime().read_engine is not runtime().engine:
        raise RuntimeError(f"a {request.method} request must not write")
    return db()


@contextlib.contextmanager
def autocommit_db() -> Iterator[Connection]:
    """A connection in autocommit mode for one statement that must be durable at once whatever becomes of
    the request (its nonce): a read's own; for a write one lent by the pool for that statement."""
    rt = runtime()
    if request.method in READ_METHODS or rt.read_engine is rt.engine:
        yield db()
        return
    with rt.read_engine.connect() as conn:
        yield conn


def close_db(_exc=None) -> None:
    for name in ("db_conn",):
        conn = g.pop(name, None)
        if conn is not None:
            try:
                if conn.in_transaction():
                    conn.rollback()
                release_transaction_locks(conn)
            finally:
                conn.close()  # the pool's check-in releases any lock still held


# A connection the server closed (a restart, wait_timeout) fails its statement at once: worth one retry on a
# fresh connection. One that failed after waiting out a timeout (a frozen server, a cut network) is not.
RETRY_WITHIN_SECONDS = 2.0


def lost_connection(error: Exception) -> bool:
    """A statement failed at once because its connection is dead (the server restarted, a network cut): the
    connection was discarded, and the server rolled back what it had not committed."""
    return (isinstance(error, DBAPIError) and error.connection_invalidated
            and time.perf_counter() - g.get("started", 0.0) <= RETRY_WITHIN_SECONDS)


def drop_connections() -> None:
    """Forget the request's connection, so that the next db() takes a fresh one from the pool."""
    conn = g.pop("db_conn", None)
    if conn is not None:
        with contextlib.suppress(Exception):
            conn.close()


def may_retry_request(error: Exception) -> bool:
    """One retry of a request that failed on a dead connection before it committed anything (its nonce,
    stored in autocommit, does not count: the retry re-uses it). Drops the dead connections when so."""
    if not lost_connection(error) or g.get("db_committed") or g.get("db_retried"):
        return False
    g.db_retried = True
    log.warning("database connection lost before anything was written: request %s retried once on a fresh connection",
                g.get("request_id"))
    drop_connections()
    return True


def track_commits(engine: Engine) -> None:
    """Note on the request when its transaction engine commits: from then on it is never retried."""
    if not event.contains(engine, "commit", _note_commit):
        event.listen(engine, "commit", _note_commit)


def _note_commit(_conn) -> None:
    if has_request_context():
        g.db_committed = True
