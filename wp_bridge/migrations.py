"""The sidecar's schema: versioned steps for the network-level tables and for each LOP site's tables.

The network version is kept in the main site's option ``lop_sidecar_db_version``, each site's version
in that site's option ``lop_sidecar_site_db_version``. A step is written so that re-running it after a
crash is harmless (MySQL commits DDL implicitly, so a step cannot be rolled back as a whole); the
version is only advanced after the step completed. WordPress core tables are never touched here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine, inspect, select, update
from sqlalchemy.schema import CreateColumn

from rules.offerings import AN_ADMGR
from rules.stages import catalogue_stage

from .catalogue import AN_ENTRY, search_text
from .errors import DataError
from .locks import named_lock
from .options import get_option, set_option
from .sites import NETWORK_DB_VERSION_OPTION, SITE_DB_VERSION_OPTION, Network
from .tables import network_tables, site_tables


@dataclass(frozen=True)
class Step:
    version: int
    description: str
    apply: Callable[[Connection, str], None]  # (connection, table prefix)


def add_missing_columns(conn: Connection, table, names: tuple[str, ...]) -> None:
    """ALTER TABLE … ADD COLUMN for each named column the table lacks (a fresh table has them already),
    then the table's indexes that are missing."""
    present = {c["name"] for c in inspect(conn).get_columns(table.name)}
    for name in names:
        if name not in present:
            ddl = CreateColumn(table.c[name]).compile(dialect=conn.dialect)
            conn.exec_driver_sql(f"ALTER TABLE {conn.dialect.identifier_preparer.format_table(table)} ADD COLUMN {ddl}")
    for index in table.indexes:
        index.create(conn, checkfirst=True)


def _network_v2(conn: Connection, prefix: str) -> None:
    nt = network_tables(prefix)
    add_missing_columns(conn, nt.admgr, ("stage",))
    add_missing_columns(conn, nt.mail_outbox, ("user_id", "purpose"))
    a = nt.admgr
    unstaged = conn.execute(select(a.c.code, a.c.onderwijsniveau, a.c.description, a.c.structuuronderdeel)
                            .where(a.c.stage.is_(None))).all()
    by_stage: dict[str, list[int]] = {}
    for row in unstaged:
        stage = catalogue_stage(row.code, row.onderwijsniveau, row.description, row.structuuronderdeel)
        if stage:
            by_stage.setdefault(stage, []).append(row.code)
    for stage, codes in by_stage.items():
        for start in range(0, len(codes), 1000):
            conn.execute(update(a).where(a.c.code.in_(codes[start:start + 1000])).values(stage=stage))
    # AN (10000) is found as "AN" too: a row stored before v2 gets the search text the sync now gives it.
    conn.execute(update(a).where(a.c.code == AN_ADMGR).values(search_text=search_text(AN_ADMGR, AN_ENTRY["description"])))


def _site_v2(conn: Connection, prefix: str) -> None:
    st = site_tables(prefix)
    add_missing_columns(conn, st.audit_log, ("offering", "school_name"))
    add_missing_columns(conn, st.free_places_snapshots, ("kind",))


NETWORK_STEPS: list[Step] = [
    Step(1, "create network tables (admgr catalogue, OV snapshot, job runs, schedulers, request nonces, mail outbox)",
         lambda conn, prefix: network_tables(prefix).metadata.create_all(conn, checkfirst=True)),
    Step(2, "catalogue stage (kleuter, lager, secundair), filled from level and description; outbox addressee and purpose",
         _network_v2),
]
SITE_STEPS: list[Step] = [
    Step(1, "create site tables (schools, vestigingen, school admins, offerings, audit log, snapshots)",
         lambda conn, prefix: site_tables(prefix).metadata.create_all(conn, checkfirst=True)),
    Step(2, "audit log: the offering and school name at the time; snapshot kind", _site_v2),
]
NETWORK_SCHEMA_VERSION = NETWORK_STEPS[-1].version
SITE_SCHEMA_VERSION = SITE_STEPS[-1].version


class MigrationError(DataError):
    status = 503


@dataclass
class MigrationReport:
    applied: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.applied)


def _version(conn: Connection, prefix: str, option: str) -> int:
    value = get_option(conn, prefix, option)
    return int(value) if value and value.isdigit() else 0


def _run_steps(engine: Engine, steps: list[Step], prefix: str, option_prefix: str, option: str, label: str,
               report: MigrationReport) -> None:
    with engine.connect() as conn:
        current = _version(conn, option_prefix, option)
        conn.commit()
        if current > steps[-1].version:
            raise MigrationError(
                "schema_too_new",
                f"{label} schema is at version {current}, newer than this lop-sidecar ({steps[-1].version}): upgrade the package",
            )
        for step in steps:
            if step.version <= current:
                continue
            with conn.begin():
                step.apply(conn, prefix)
                set_option(conn, option_prefix, option, str(step.version))
            report.applied.append(f"{label}: v{step.version} {step.description}")


def migrate_network(engine: Engine, network: Network, report: MigrationReport) -> None:
    _run_steps(engine, NETWORK_STEPS, network.base_prefix, network.base_prefix, NETWORK_DB_VERSION_OPTION,
               "network", report)


def migrate_site(engine: Engine, network: Network, site_id: int, report: MigrationReport) -> None:
    prefix = network.prefix(site_id)
    _run_steps(engine, SITE_STEPS, prefix, prefix, SITE_DB_VERSION_OPTION, f"site {site_id}", report)


def migrate(engine: Engine, network: Network, site_ids: list[int] | None = None) -> MigrationReport:
    """Bring the network tables and the tables of the given sites (default: every enabled LOP site) up to
    date, under a lock so that two processes never migrate at once."""
    report = MigrationReport()
    with named_lock(engine, "migrate", timeout=120) as acquired:
        if not acquired:
            raise MigrationError("migration_locked", "another process is migrating this database; try again later")
        with engine.connect() as conn:
            if not network.has_core_tables(conn):
                raise MigrationError(
                    "wordpress_tables_missing",
                    f"WordPress tables with prefix {network.base_prefix!r} not found: check LOP_DATABASE_URL and "
                    "LOP_WP_TABLE_PREFIX (--with-wordpress-core is for demo and test databases only)",
                )
            if site_ids is None:
                site_ids = [site.id for site in network.list_sites(conn) if site.enabled]
        migrate_network(engine, network, report)
        for site_id in site_ids:
            migrate_site(engine, network, site_id, report)
    return report


def schema_status(conn: Connection, network: Network) -> int:
    """The network schema version stored in the database."""
    return _version(conn, network.base_prefix, NETWORK_DB_VERSION_OPTION)
