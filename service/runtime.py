"""What a running app or command holds: configuration, the engine and the WordPress network."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from flask import current_app, g
from sqlalchemy import Connection, Engine

from wp_bridge.db import make_engine
from wp_bridge.locks import release_transaction_locks
from wp_bridge.sites import Network
from wp_bridge.tables import network_tables

from .config import Config


@dataclass
class Runtime:
    config: Config
    engine: Engine
    network: Network

    @classmethod
    def from_config(cls, config: Config) -> "Runtime":
        return cls(config, make_engine(config.database_url), Network(config.table_prefix, config.network_id))

    @property
    def network_tables(self):
        return network_tables(self.config.table_prefix)

    def today(self) -> dt.date:
        """Today's date in the LOP's time zone (Europe/Brussels by default)."""
        return dt.datetime.now(self.config.tz).date()


def runtime() -> Runtime:
    return current_app.extensions["lop_sidecar"]


def db() -> Connection:
    """The request's connection: checked out once, closed (and rolled back if left open) at teardown."""
    conn = g.get("db_conn")
    if conn is None:
        conn = g.db_conn = runtime().engine.connect()
    return conn


def close_db(_exc=None) -> None:
    conn = g.pop("db_conn", None)
    if conn is not None:
        try:
            if conn.in_transaction():
                conn.rollback()
            release_transaction_locks(conn)
        finally:
            conn.close()  # the pool's check-in releases any lock still held

