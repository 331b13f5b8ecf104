"""Turning WordPress sites into LOP sites and back."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import Connection, Engine, delete, inspect

from rules.school_year import DEFAULT_SWITCH_DAY, current_school_year

from .audit import Actor, Change, write_audit
from .errors import Conflict, NotFound
from .migrations import MigrationReport, migrate
from .options import get_option, set_option
from .sites import DELETED, ENABLED_OPTION, SCHOOL_YEAR_OPTION, SETTINGS_OPTION, SITE_DB_VERSION_OPTION, Network
from .tables import core_site_tables, site_tables

SIDECAR_SITE_OPTIONS = (ENABLED_OPTION, SCHOOL_YEAR_OPTION, SITE_DB_VERSION_OPTION, SETTINGS_OPTION)

CLI_ACTOR = Actor(user_id=0, user_login="", user_role="system", source="cli")


def enable_site(engine: Engine, network: Network, site_id: int, today: dt.date,
                switch_day: tuple[int, int] = DEFAULT_SWITCH_DAY) -> MigrationReport:
    """Mark a site as a LOP site, create its tables and give it a current school year (when it has none)."""
    with engine.connect() as conn:
        if not network.site_exists(conn, site_id):
            raise NotFound("site_not_found", f"site {site_id} does not exist in this WordPress install")
    report = migrate(engine, network, [site_id])
    prefix = network.prefix(site_id)
    with engine.begin() as conn:
        if get_option(conn, prefix, SCHOOL_YEAR_OPTION) is None:
            set_option(conn, prefix, SCHOOL_YEAR_OPTION, current_school_year(today, switch_day))
        if set_option(conn, prefix, ENABLED_OPTION, "1"):
            write_audit(conn, site_tables(prefix), site_id, CLI_ACTOR, [Change("site", "enable", entity_id=site_id)])
            report.applied.append(f"site {site_id}: enabled as LOP site")
    return report


def disable_site(engine: Engine, network: Network, site_id: int) -> bool:
    """Stop treating a site as a LOP site; its data stays. Returns whether anything changed."""
    with engine.begin() as conn:
        if not network.site_exists(conn, site_id):
            raise NotFound("site_not_found", f"site {site_id} does not exist in this WordPress install")
        prefix = network.prefix(site_id)
        if get_option(conn, prefix, ENABLED_OPTION) != "1":
            return False
        set_option(conn, prefix, ENABLED_OPTION, "0")
        write_audit(conn, site_tables(prefix), site_id, CLI_ACTOR, [Change("site", "disable", entity_id=site_id)])
        return True


def orphaned_sites(conn: Connection, network: Network) -> list[int]:
    """Sites whose LOP tables remain although WordPress deleted the site (its blogs row is gone or marked
    deleted): WordPress drops only its own tables of a site."""
    pattern = re.compile(rf"^{re.escape(network.base_prefix)}(\d+)_lop_")
    with_tables = {int(m.group(1)) for name in inspect(conn).get_table_names() if (m := pattern.match(name))}
    statuses = network.site_statuses(conn, any_network=True)
    return sorted(site_id for site_id in with_tables if statuses.get(site_id) in (None, DELETED))


def site_table_names(conn: Connection, network: Network, site_id: int) -> list[str]:
    names = set(inspect(conn).get_table_names())
    return [table.name for table in site_tables(network.prefix(site_id)).metadata.sorted_tables if table.name in names]


def refuse_purge_of_existing_site(conn: Connection, network: Network, site_id: int) -> None:
    """409 while WordPress has the site: its blogs row exists (in any network) and is not marked deleted."""
    status = network.site_status(conn, site_id, any_network=True)
    if status is not None and status != DELETED:
        raise Conflict("site_exists", f"site {site_id} bestaat nog in WordPress ({status}): enkel de tabellen van een "
                                      "site die WordPress verwijderde, kunnen opgeruimd worden")


def drop_site_tables(engine: Engine, network: Network, site_id: int) -> list[str]:
    """Drop the LOP tables of a site WordPress deleted (after its log was archived); returns their names.
    A site only flagged deleted still has its options table: the sidecar's options go too, so that the site,
    if WordPress brings it back, is simply no LOP site."""
    prefix = network.prefix(site_id)
    with engine.begin() as conn:
        refuse_purge_of_existing_site(conn, network, site_id)
        names = site_table_names(conn, network, site_id)
        site_tables(prefix).metadata.drop_all(conn, checkfirst=True)
        options = core_site_tables(prefix).options
        if inspect(conn).has_table(options.name):
            conn.execute(delete(options).where(options.c.option_name.in_(SIDECAR_SITE_OPTIONS)))
    return names
