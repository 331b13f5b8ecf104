"""WordPress users and the roles they hold on each site (read from usermeta, never from a request)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import Connection, and_, select

from rules.roles import Role, RoleSlugs, granted_roles, resolve_role

from .php_serialize import PhpSerializeError, unserialize
from .sites import Network


@dataclass(frozen=True)
class WpUser:
    id: int
    login: str
    email: str
    display_name: str


def capabilities_key(network: Network, site_id: int) -> str:
    return f"{network.prefix(site_id)}capabilities"


def parse_capabilities(value: str | None) -> set[str]:
    """The WordPress roles in a ``…capabilities`` usermeta value; a malformed value grants nothing."""
    if not value:
        return set()
    try:
        parsed = unserialize(value)
    except PhpSerializeError:
        return set()
    return granted_roles(parsed) if isinstance(parsed, dict) else set()


def load_user_with_site_roles(
    conn: Connection, network: Network, user_id: int, site_id: int
) -> tuple[WpUser, set[str]] | None:
    """The user and their WordPress roles on one site, in one query; None when there is no such user."""
    users, usermeta = network.core.users, network.core.usermeta
    row = conn.execute(
        select(users.c.ID, users.c.user_login, users.c.user_email, users.c.display_name, usermeta.c.meta_value)
        .select_from(
            users.outerjoin(
                usermeta,
                and_(usermeta.c.user_id == users.c.ID, usermeta.c.meta_key == capabilities_key(network, site_id)),
            )
        )
        .where(users.c.ID == user_id)
        .limit(1)
    ).first()
    if row is None:
        return None
    return WpUser(int(row[0]), row[1], row[2], row[3]), parse_capabilities(row[4])


def load_user(conn: Connection, network: Network, user_id: int) -> WpUser | None:
    users = network.core.users
    row = conn.execute(
        select(users.c.ID, users.c.user_login, users.c.user_email, users.c.display_name).where(users.c.ID == user_id)
    ).first()
    return WpUser(int(row[0]), row[1], row[2], row[3]) if row else None


def role_on_site(
    conn: Connection, network: Network, user_id: int, site_id: int, slugs: RoleSlugs
) -> tuple[WpUser, Role | None] | None:
    loaded = load_user_with_site_roles(conn, network, user_id, site_id)
    if loaded is None:
        return None
    user, wordpress_roles = loaded
    is_super_admin = user.login in network.super_admin_logins(conn)
    return user, resolve_role(is_super_admin, wordpress_roles, slugs)


def roles_on_all_sites(conn: Connection, network: Network, user: WpUser, slugs: RoleSlugs) -> dict[int, Role]:
    """Every site on which the user has a sidecar role (not counting operator rights)."""
    usermeta = network.core.usermeta
    key_pattern = re.compile(rf"^{re.escape(network.base_prefix)}(?:(\d+)_)?capabilities$")
    result: dict[int, Role] = {}
    rows = conn.execute(
        select(usermeta.c.meta_key, usermeta.c.meta_value).where(
            usermeta.c.user_id == user.id, usermeta.c.meta_key.like("%capabilities")
        )
    )
    for key, value in rows:
        match = key_pattern.match(key or "")
        if not match:
            continue
        role = resolve_role(False, parse_capabilities(value), slugs)
        if role is not None:
            result[int(match.group(1) or 1)] = role
    return result
