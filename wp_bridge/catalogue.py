"""The administrative-group catalogue (network level)."""

from __future__ import annotations

from sqlalchemy import Connection, select

from .tables import NetworkTables


def get_admgr(conn: Connection, nt: NetworkTables, code: int):
    return conn.execute(select(nt.admgr).where(nt.admgr.c.code == code)).first()
