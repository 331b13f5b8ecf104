"""WordPress core tables for demo and test databases only (``migrate --with-wordpress-core``).

A real install's core tables belong to WordPress; the sidecar never creates or alters them there.
"""

from __future__ import annotations

from sqlalchemy import Connection, func, select

from .db import utcnow
from .options import set_option
from .sites import Network
from .tables import core_site_tables

# db_version of WordPress 6.8, the first release with BLAKE2b reset keys and bcrypt passwords.
WORDPRESS_6_8_DB_VERSION = "60421"


def create_core_tables(conn: Connection, network: Network, site_ids: list[int]) -> None:
    network.core.metadata.create_all(conn, checkfirst=True)
    for site_id in sorted({1, *site_ids}):
        core_site_tables(network.prefix(site_id)).metadata.create_all(conn, checkfirst=True)
    network._multisite = None  # the blogs table may have just appeared


def install_network(conn: Connection, network: Network, *, domain: str = "localhost", scheme: str = "http",
                    name: str = "WordPress", db_version: str = WORDPRESS_6_8_DB_VERSION) -> None:
    """Give an empty core install its network row, site 1 and the options WordPress needs (idempotent)."""
    create_core_tables(conn, network, [1])
    core = network.core
    if conn.execute(select(func.count()).select_from(core.site)).scalar_one() == 0:
        conn.execute(core.site.insert().values(id=1, domain=domain, path="/"))
    if conn.execute(select(func.count()).select_from(core.blogs)).scalar_one() == 0:
        add_site(conn, network, 1, domain=domain, path="/", scheme=scheme, name=name, db_version=db_version)


def add_site(conn: Connection, network: Network, site_id: int, *, domain: str, path: str, name: str,
             scheme: str = "http", db_version: str = WORDPRESS_6_8_DB_VERSION) -> None:
    """Register site ``site_id`` in the network with its own core tables and basic options."""
    now = utcnow().replace(microsecond=0)
    conn.execute(network.core.blogs.insert().values(
        blog_id=site_id, site_id=1, domain=domain, path=path, registered=now, last_updated=now,
    ))
    create_core_tables(conn, network, [site_id])
    prefix = network.prefix(site_id)
    url = f"{scheme}://{domain}{path}".rstrip("/")
    for option, value in (("siteurl", url), ("home", url), ("blogname", name), ("db_version", db_version)):
        set_option(conn, prefix, option, value, autoload="yes")
