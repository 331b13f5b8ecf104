"""Request nonces, stored so that a replay is refused by every process on the database."""

from __future__ import annotations

import functools

from sqlalchemy import Connection, bindparam, delete
from sqlalchemy.exc import IntegrityError

from .db import run_fixed
from .tables import NetworkTables


def remember_nonce(conn: Connection, tables: NetworkTables, nonce: str, now: int, prune_before: int | None = None) -> bool:
    """Store a nonce in its own transaction; False when it was stored before (a replay)."""
    try:
        with conn.begin():
            run_fixed(conn, _insert(tables), {"nonce": nonce, "seen_at": now})
            if prune_before is not None:
                prune_nonces(conn, tables, prune_before)
    except IntegrityError:
        return False
    return True


@functools.lru_cache(maxsize=16)
def _insert(tables: NetworkTables):
    return tables.request_nonces.insert().values(nonce=bindparam("nonce"), seen_at=bindparam("seen_at"))


def prune_nonces(conn: Connection, tables: NetworkTables, before: int) -> int:
    return conn.execute(delete(tables.request_nonces).where(tables.request_nonces.c.seen_at < before)).rowcount
