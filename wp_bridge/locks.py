"""Named locks shared by every process on the same database.

MySQL/MariaDB: ``GET_LOCK`` on a connection held for the lock's lifetime (released by the server if
the process dies). SQLite: an exclusive ``flock`` on a file beside the database (released by the
kernel if the process dies); an in-memory database is private to its process, so a process-local
lock is the equivalent there.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import threading
import time
from collections.abc import Iterator

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

from .db import HELD_LOCKS, is_mysql
from .errors import Busy

log = logging.getLogger("lop_sidecar.locks")
_local_locks: dict[str, threading.Lock] = {}
_local_guard = threading.Lock()


def _mysql_lock_name(engine: Engine, name: str) -> str:
    # GET_LOCK names are server-wide: scope them to the database; the server allows 64 characters.
    scoped = f"{engine.url.database}/{name}"
    return scoped if len(scoped) <= 64 else hashlib.sha256(scoped.encode()).hexdigest()


@contextlib.contextmanager
def named_lock(engine: Engine, name: str, timeout: float = 0) -> Iterator[bool]:
    """Yield True while holding the lock, or False when it could not be had within ``timeout`` seconds."""
    if is_mysql(engine):
        with engine.connect() as conn:
            lock_name = _mysql_lock_name(engine, name)
            acquired = conn.execute(text("SELECT GET_LOCK(:n, :t)"), {"n": lock_name, "t": timeout}).scalar() == 1
            conn.commit()
            try:
                yield acquired
            finally:
                if acquired:
                    _release(conn, lock_name)
        return
    database = engine.url.database
    if not database or database == ":memory:":
        with _local_lock(f"{id(engine)}/{name}", timeout) as acquired:
            yield acquired
        return
    path = f"{os.path.abspath(database)}.{hashlib.sha256(name.encode()).hexdigest()[:16]}.lock"
    with open(path, "a+") as handle:
        acquired = _flock(handle, timeout)
        try:
            yield acquired
        finally:
            if acquired:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _release(conn: Connection, lock_name: str) -> None:
    try:
        conn.execute(text("SELECT RELEASE_LOCK(:n)"), {"n": lock_name})
        conn.commit()
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
        # The lock belonged to the session of a connection that is gone (a database restart): the server
        # released it with the session. Raising here would hide what the caller is handling.
        log.warning("lock %s: its connection is gone (%s), and the lock with it", lock_name,
                    type(getattr(exc, "orig", None) or exc).__name__)


def _flock(handle, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)


@contextlib.contextmanager
def _local_lock(key: str, timeout: float) -> Iterator[bool]:
    with _local_guard:
        lock = _local_locks.setdefault(key, threading.Lock())
    acquired = lock.acquire(timeout=timeout) if timeout > 0 else lock.acquire(blocking=False)
    try:
        yield acquired
    finally:
        if acquired:
            lock.release()


ACCOUNTS_LOCK = "wordpress-accounts"
ACCOUNTS_LOCK_TIMEOUT_SECONDS = 30


def lock_for_transaction(conn: Connection, name: str, timeout: float = ACCOUNTS_LOCK_TIMEOUT_SECONDS) -> None:
    """Take a network-wide named lock on the transaction's own connection, to be held until the transaction
    has committed or rolled back (``release_transaction_locks``). MySQL's GET_LOCK belongs to the session,
    not the transaction: whoever ends the transaction releases it, and the pool releases whatever a
    connection still holds when it is given back (wp_bridge/db.py). SQLite needs none: its writers are
    serialised by ``BEGIN IMMEDIATE`` already."""
    if not is_mysql(conn):
        return
    held = conn.info.setdefault(HELD_LOCKS, [])
    lock_name = _mysql_lock_name(conn.engine, name)
    if lock_name in held:
        return
    held.append(lock_name)  # before asking: an interrupted GET_LOCK may still have been granted
    if conn.execute(text("SELECT GET_LOCK(:n, :t)"), {"n": lock_name, "t": timeout}).scalar() != 1:
        held.remove(lock_name)
        raise Busy("busy", "Er worden op dit moment elders accounts aangemaakt; probeer het zo dadelijk opnieuw.")


def release_transaction_locks(conn: Connection) -> None:
    """Release what ``lock_for_transaction`` took, right after the commit or rollback. A failure here is
    logged, never raised: the change is committed, and the pool releases the lock at check-in anyway."""
    if conn.closed or conn.invalidated or not conn.info.get(HELD_LOCKS):
        return
    held = conn.info.pop(HELD_LOCKS)
    try:
        for lock_name in held:
            conn.exec_driver_sql("DO RELEASE_LOCK(%s)", (lock_name,))
    except Exception as exc:  # noqa: BLE001 — see above
        conn.info[HELD_LOCKS] = held  # the check-in releases them
        log.warning("could not release %s (%s): released when the connection is given back", held, type(exc).__name__)
