"""Turning WordPress sites into LOP sites and back."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine

from rules.school_year import DEFAULT_SWITCH_DAY, current_school_year

from .audit import Actor, Change, write_audit
from .errors import NotFound
from .migrations import MigrationReport, migrate
from .options import get_option, set_option
from .sites import ENABLED_OPTION, SCHOOL_YEAR_OPTION, Network
from .tables import site_tables

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
