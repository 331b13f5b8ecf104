"""Request nonces, stored so that a replay is refused by every process on the database."""

from __future__ import annotations

from sqlalchemy import Connection, delete
from sqlalchemy.exc import IntegrityError

from .tables import NetworkTables


def remember_nonce(conn: Connection, tables: NetworkTables, nonce: str, now: int, prune_before: int | None = None) -> bool:
    """Store a nonce in its own transaction; False when it was stored before (a replay)."""
    try:
        with conn.begin():
            conn.execute(tables.request_nonces.insert(), {"nonce": nonce, "seen_at": now})
            if prune_before is not None:
                prune_nonces(conn, tables, prune_before)
    except IntegrityError:
        return False
    return True


def prune_nonces(conn: Connection, tables: NetworkTables, before: int) -> int:
    return conn.execute(delete(tables.request_nonces).where(tables.request_nonces.c.seen_at < before)).rowcount
