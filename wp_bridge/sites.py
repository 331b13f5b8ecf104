"""The WordPress sites of the install, and which of them are LOP sites.

In a multisite network the sites are the rows of ``{prefix}blogs``; a single-site install is site 1.
Whether a site is a LOP site, its current school year and its schema version are options of that site.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from sqlalchemy import Connection, func, inspect, literal, select, union_all

from .options import get_options
from .php_serialize import PhpSerializeError, maybe_unserialize
from .tables import core_global_tables, core_site_tables, site_prefix, wp_text

log = logging.getLogger("lop_sidecar.wordpress")

ENABLED_OPTION = "lop_sidecar_site_enabled"
SCHOOL_YEAR_OPTION = "lop_sidecar_current_school_year"
SITE_DB_VERSION_OPTION = "lop_sidecar_site_db_version"
NETWORK_DB_VERSION_OPTION = "lop_sidecar_db_version"
SETTINGS_OPTION = "lop_sidecar_settings"  # the rights settings (wp_bridge/settings.py)

LIVE, ARCHIVED, SPAM, DELETED = "live", "archived", "spam", "deleted"

# Read with the site on every request: the rights settings come along, so that an edit needs no query of
# its own to check the rights.
SITE_OPTIONS = ("blogname", "siteurl", ENABLED_OPTION, SCHOOL_YEAR_OPTION, SITE_DB_VERSION_OPTION, SETTINGS_OPTION)


@dataclass(frozen=True)
class WpSite:
    id: int
    prefix: str
    name: str
    url: str
    enabled: bool
    current_school_year: str | None
    schema_version: int
    settings_text: str | None = None  # the stored settings option, parsed by wp_bridge.settings.site_rights_settings
    status: str = LIVE  # or ARCHIVED, SPAM, DELETED: WordPress's flags in its blogs row

    @property
    def live(self) -> bool:
        return self.status == LIVE

    def as_json(self) -> dict:
        return {"id": self.id, "name": self.name, "url": self.url, "current_school_year": self.current_school_year,
                "status": self.status}


def blog_status(archived, spam, deleted) -> str:
    """WordPress's flags of a site as one word: the strongest of deleted, spam and archived, else live."""
    for flag, name in ((deleted, DELETED), (spam, SPAM), (archived, ARCHIVED)):
        if str(flag).strip() not in ("", "0", "None"):
            return name
    return LIVE


class Network:
    """The WordPress network behind one database and table prefix: its sites are the blogs of network
    ``network_id`` (``wp_site.id``), its operators the super admins in that network's sitemeta. Other
    networks in the same tables are nobody's business here."""

    # How long the set of existing site ids is trusted; a site id not in it is looked up at once.
    SITE_IDS_TTL_SECONDS = 60

    def __init__(self, base_prefix: str, network_id: int = 1):
        self.base_prefix = base_prefix
        self.network_id = network_id
        self.core = core_global_tables(base_prefix)
        self._multisite: bool | None = None
        self._site_ids: frozenset[int] = frozenset()
        self._site_ids_read_at = float("-inf")

    def prefix(self, site_id: int) -> str:
        return site_prefix(self.base_prefix, site_id)

    def is_multisite(self, conn: Connection) -> bool:
        # A network is not converted back and forth while the service runs: look once.
        if self._multisite is None:
            self._multisite = inspect(conn).has_table(self.core.blogs.name)
        return self._multisite

    def has_core_tables(self, conn: Connection) -> bool:
        names = set(inspect(conn).get_table_names())
        return {self.core.users.name, self.core.usermeta.name, core_site_tables(self.base_prefix).options.name} <= names

    def site_ids(self, conn: Connection) -> list[int]:
        """Every site of this network, live or not (archived, spam and deleted sites keep their tables)."""
        return list(self.site_statuses(conn))

    def site_statuses(self, conn: Connection, *, any_network: bool = False) -> dict[int, str]:
        """site id -> LIVE, ARCHIVED, SPAM or DELETED, for this network's sites (or every network's)."""
        if not self.is_multisite(conn):
            return {1: LIVE}
        rows = conn.execute(self._statuses_query(any_network).order_by(self.core.blogs.c.blog_id))
        return {int(blog_id): blog_status(archived, spam, deleted) for blog_id, archived, spam, deleted in rows}

    def _statuses_query(self, any_network: bool):
        blogs = self.core.blogs
        query = select(blogs.c.blog_id, blogs.c.archived, blogs.c.spam, blogs.c.deleted)
        return query if any_network else query.where(blogs.c.site_id == self.network_id)

    def probably_exists(self, conn: Connection, site_id: int) -> bool:
        """Whether the site exists, from a short-lived cache of the site ids, so that per-request code can
        name the site's tables without a query of its own. A new site is seen at once (a miss re-reads
        the ids); a site deleted meanwhile is caught by the caller, which reads its blogs row anyway."""
        fresh = time.monotonic() - self._site_ids_read_at < self.SITE_IDS_TTL_SECONDS
        if not fresh or site_id not in self._site_ids:
            self._site_ids = frozenset(self.site_ids(conn))
            self._site_ids_read_at = time.monotonic()
        return site_id in self._site_ids

    def site_status(self, conn: Connection, site_id: int, *, any_network: bool = False) -> str | None:
        """LIVE, ARCHIVED, SPAM or DELETED; None when this network (or, ``any_network``, any) has no such site."""
        if not self.is_multisite(conn):
            return LIVE if site_id == 1 else None
        row = conn.execute(self._statuses_query(any_network).where(self.core.blogs.c.blog_id == site_id)).first()
        return blog_status(*row[1:]) if row else None

    def login_url(self, conn: Connection, site: WpSite) -> str:
        """``network_site_url('wp-login.php')``: on a network, the login page of the network's main address
        (``wp_site`` domain and path, in the site's scheme) — WordPress's reset form posts there and its reset
        cookie lives there, so a set-password link on a sub-site's path fails with ``invalidkey``; a single
        site's own login page otherwise."""
        if self.is_multisite(conn):
            row = conn.execute(select(self.core.site.c.domain, self.core.site.c.path)
                               .where(self.core.site.c.id == self.network_id)).first()
            if row is not None:
                scheme = site.url.split("://", 1)[0] if "://" in site.url else "https"
                return f"{scheme}://{row.domain}{row.path or '/'}wp-login.php"
        return f"{site.url}/wp-login.php"

    def site_exists(self, conn: Connection, site_id: int) -> bool:
        return self.site_status(conn, site_id) is not None

    def get_site(self, conn: Connection, site_id: int) -> WpSite | None:
        status = self.site_status(conn, site_id)
        if status is None:
            return None
        return self.site_from_options(site_id, get_options(conn, self.prefix(site_id), SITE_OPTIONS), status)

    def list_sites(self, conn: Connection) -> list[WpSite]:
        """Every site of the network, read with one query over all their options tables."""
        statuses = self.site_statuses(conn)
        ids = list(statuses)
        if not ids:
            return []
        selects = []
        for site_id in ids:
            options = core_site_tables(self.prefix(site_id)).options
            selects.append(
                select(literal(site_id).label("site_id"), wp_text(options.c.option_name), wp_text(options.c.option_value)).where(
                    options.c.option_name.in_(SITE_OPTIONS)
                )
            )
        values: dict[int, dict[str, str]] = {site_id: {} for site_id in ids}
        for site_id, name, value in conn.execute(union_all(*selects)):
            values[int(site_id)][name] = value
        return [self.site_from_options(site_id, values[site_id], statuses[site_id]) for site_id in ids]

    def super_admin_logins(self, conn: Connection) -> set[str]:
        """Logins listed in the network's ``site_admins`` (none on a single-site install)."""
        if not self.is_multisite(conn):
            return set()
        return parse_site_admins(conn.execute(self.site_admins_query()).scalars())

    def site_admins_query(self):
        return select(self.core.sitemeta.c.meta_value).where(self.core.sitemeta.c.meta_id == self.site_admins_row())

    def site_admins_row(self):
        """The id of this network's ``site_admins`` row (the first, as WordPress reads it)."""
        sitemeta = self.core.sitemeta
        return (select(func.min(sitemeta.c.meta_id))
                .where(sitemeta.c.meta_key == "site_admins", sitemeta.c.site_id == self.network_id).scalar_subquery())

    def site_from_options(self, site_id: int, options: dict[str, str], status: str = LIVE) -> WpSite:
        version = options.get(SITE_DB_VERSION_OPTION, "0")
        return WpSite(
            id=site_id,
            prefix=self.prefix(site_id),
            name=options.get("blogname", ""),
            url=options.get("siteurl", "").rstrip("/"),
            enabled=options.get(ENABLED_OPTION) == "1",
            current_school_year=options.get(SCHOOL_YEAR_OPTION),
            schema_version=int(version) if version.isdigit() else 0,
            settings_text=options.get(SETTINGS_OPTION),
            status=status,
        )


def parse_site_admins(values) -> set[str]:
    """Logins in the network's ``site_admins`` values, read as WordPress reads them; an unreadable value
    grants nobody anything (and is logged)."""
    logins: set[str] = set()
    for value in values:
        try:
            parsed = maybe_unserialize(value or "")
        except PhpSerializeError:
            log.warning("unreadable WordPress value: sitemeta site_admins names no super admin")
            continue
        if isinstance(parsed, dict):
            logins.update(v for v in parsed.values() if isinstance(v, str))
    return logins
