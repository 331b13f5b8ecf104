"""Fixtures of the fault and load suite: a MariaDB database of its own per test (never SQLite: the faults
are about a real server and real processes)."""

from __future__ import annotations

import pytest

from .processes import Sidecar


@pytest.fixture
def mariadb_url(database_factories) -> str:
    """A fresh, empty database on the shared MariaDB (dropped at the end of the session)."""
    return database_factories("mysql").new_url()


@pytest.fixture
def sidecar(mariadb_url) -> Sidecar:
    return Sidecar(mariadb_url)
