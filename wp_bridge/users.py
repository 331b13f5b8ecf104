"""WordPress users and the roles they hold on each site (read from usermeta, never from a request)."""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass, replace

from sqlalchemy import Connection, String, bindparam, func, literal, select, union_all

from rules.roles import Role, RoleSlugs, granted_roles, resolve_role

from .db import run_fixed
from .php_serialize import PHP_TRIM, PhpSerializeError, maybe_unserialize
from .sites import LIVE, SITE_OPTIONS, Network, WpSite, blog_status, parse_site_admins
from .tables import core_site_tables, wp_text

log = logging.getLogger("lop_sidecar.wordpress")


@dataclass(frozen=True)
class WpUser:
    id: int
    login: str
    email: str
    display_name: str


def capabilities_key(network: Network, site_id: int) -> str:
    return f"{network.prefix(site_id)}capabilities"


def user_level_key(network: Network, site_id: int) -> str:
    return f"{network.prefix(site_id)}user_level"


@functools.lru_cache(maxsize=16)
def _capabilities_key_pattern(base_prefix: str) -> re.Pattern:
    return re.compile(rf"{re.escape(base_prefix)}(?:(\d+)_)?capabilities")


def capabilities_site(network: Network, key: str | None) -> int | None:
    """The site a ``…capabilities`` usermeta key is for (``wp_capabilities``: 1, ``wp_7_capabilities``: 7);
    None for any other key."""
    match = _capabilities_key_pattern(network.base_prefix).fullmatch(key or "")
    return int(match.group(1) or 1) if match else None


def read_capabilities(value: str | None) -> dict:
    """A ``…capabilities`` usermeta value as WordPress reads it: the array of roles and single capabilities,
    in its order; empty when absent. Raises PhpSerializeError when it is not an array WordPress can read."""
    if value is None or value.strip(PHP_TRIM) == "":
        return {}
    parsed = maybe_unserialize(value)
    if not isinstance(parsed, dict):
        raise PhpSerializeError("not an array")
    return parsed


def parse_capabilities(value: str | None, *, user_id: int | None = None, key: str = "capabilities") -> set[str]:
    """The WordPress roles in a ``…capabilities`` usermeta value. An unreadable value grants nothing (fail
    closed) and is logged: WordPress would not read a role from it either."""
    try:
        return granted_roles(read_capabilities(value))
    except PhpSerializeError:
        log.warning("unreadable WordPress value: usermeta %s of user %s grants no role", key, user_id)
        return set()


def load_user(conn: Connection, network: Network, user_id: int) -> WpUser | None:
    users = network.core.users
    row = conn.execute(
        select(users.c.ID, users.c.user_login, users.c.user_email, users.c.display_name).where(users.c.ID == user_id)
    ).first()
    return WpUser(int(row[0]), row[1], row[2], row[3]) if row else None


def roles_on_all_sites(conn: Connection, network: Network, user: WpUser, slugs: RoleSlugs) -> dict[int, Role]:
    """Every site on which the user has a sidecar role (not counting operator rights)."""
    usermeta = network.core.usermeta
    result: dict[int, Role] = {}
    rows = conn.execute(
        select(usermeta.c.meta_key, usermeta.c.meta_value).where(
            usermeta.c.user_id == user.id, usermeta.c.meta_key.like("%capabilities")
        ).order_by(usermeta.c.umeta_id)
    )
    live = {site_id for site_id, status in network.site_statuses(conn).items() if status == LIVE}
    seen = set()
    for key, value in rows:
        site_id = capabilities_site(network, key)
        if site_id not in live or key in seen:
            continue  # WordPress reads the first of duplicate rows; other networks and inactive sites are not ours
        seen.add(key)
        role = resolve_role(False, parse_capabilities(value, user_id=user.id, key=key), slugs)
        if role is not None:
            result[site_id] = role
    return result


@dataclass(frozen=True)
class SiteAndUser:
    site: WpSite | None  # None: no such site in this network
    user: WpUser | None  # None: user 0, or no such user
    wordpress_roles: frozenset[str]
    is_super_admin: bool
    original: SiteAndUser | None = None  # the real person of a switched request (load_site_and_user)

    def role(self, slugs: RoleSlugs) -> Role | None:
        return resolve_role(self.is_super_admin, self.wordpress_roles, slugs) if self.user else None


@functools.lru_cache(maxsize=256)
def _site_and_user_query(network: Network, site_id: int, multisite: bool, with_user: bool, with_original: bool = False):
    """The union behind load_site_and_user, built once per shape (building it costs more than running it)."""
    core = network.core
    options = core_site_tables(network.prefix(site_id)).options
    blank = literal("", String)

    def part(kind: str, *columns):
        padded = [wp_text(c) for c in columns] + [blank] * (4 - len(columns))
        return select(literal(kind, String).label("kind"), *padded)

    def user_parts(suffix: str, user_id):
        users, usermeta = core.users, core.usermeta
        # WordPress reads the first of duplicate meta rows (the lowest id)
        first = (select(func.min(usermeta.c.umeta_id))
                 .where(usermeta.c.user_id == user_id, usermeta.c.meta_key == capabilities_key(network, site_id))
                 .scalar_subquery())
        return [part("user" + suffix, users.c.user_login, users.c.user_email, users.c.display_name).where(users.c.ID == user_id),
                part("caps" + suffix, usermeta.c.meta_value).where(usermeta.c.umeta_id == first)]

    # the option names as literals, not an expanding IN list: the statement is fixed (db.run_fixed)
    names = [literal(name, String) for name in SITE_OPTIONS]
    parts = [part("option", options.c.option_name, options.c.option_value).where(options.c.option_name.in_(names))]
    if multisite:
        blogs = core.blogs
        parts.append(part("blog", blogs.c.site_id, blogs.c.archived, blogs.c.spam, blogs.c.deleted)
                     .where(blogs.c.blog_id == site_id))
        parts.append(part("super_admins", core.sitemeta.c.meta_value).where(
            core.sitemeta.c.meta_id == network.site_admins_row()))
    if with_user:
        parts += user_parts("", bindparam("user_id"))
    if with_original:  # the real person behind a switched request
        parts += user_parts("_original", bindparam("original_id"))
    return union_all(*parts)


def load_site_and_user(conn: Connection, network: Network, site_id: int, user_id: int,
                       switched_from: int | None = None) -> SiteAndUser:
    """Everything a request needs to know about its site and user, in one round trip: the site's options,
    its blogs row, the user, their capabilities on the site and the network's super admins — and, for a
    switched request, the same of the real person (``original``): every request runs this, so each query
    folded in here saves a round trip on every request."""
    nothing = SiteAndUser(None, None, frozenset(), False)
    if not network.probably_exists(conn, site_id):
        return nothing
    multisite = network.is_multisite(conn)
    with_original = switched_from is not None
    query = _site_and_user_query(network, site_id, multisite, bool(user_id), with_original)
    params = {"user_id": user_id} if user_id else {}
    if with_original:
        params["original_id"] = switched_from
    site_options: dict[str, str] = {}
    status = None if multisite else LIVE  # None: not a site of this network
    super_admins: list[str] = []
    users: dict[str, WpUser] = {}
    capabilities: dict[str, str] = {}
    ids = {"": user_id, "_original": switched_from}
    for kind, a, b, c, d in run_fixed(conn, query, params):
        if kind == "option":
            site_options[a] = b
        elif kind == "blog":
            status = blog_status(b, c, d) if a == str(network.network_id) else None
        elif kind == "super_admins":
            super_admins.append(a)
        elif kind.startswith("user"):
            suffix = kind[4:]
            users[suffix] = WpUser(ids[suffix], a, b, c)
        elif kind.startswith("caps"):
            capabilities[kind[4:]] = a
    if status is None:
        return nothing
    site = network.site_from_options(site_id, site_options, status)
    admins = parse_site_admins(super_admins)

    def as_loaded(suffix: str) -> SiteAndUser:
        user = users.get(suffix)
        if user is None:
            return SiteAndUser(site, None, frozenset(), False)
        roles = parse_capabilities(capabilities.get(suffix), user_id=user.id, key=capabilities_key(network, site_id))
        return SiteAndUser(site, user, frozenset(roles), user.login in admins)

    loaded = as_loaded("")
    return replace(loaded, original=as_loaded("_original")) if with_original else loaded


def wordpress_warnings(conn: Connection, network: Network) -> list[str]:
    """What in WordPress's own data makes the sidecar fail closed, for the operator (``GET /health``):
    no super admins in sitemeta, and role values the sidecar cannot read (those users have no role)."""
    warnings: list[str] = []
    if network.is_multisite(conn):
        values = list(conn.execute(network.site_admins_query()).scalars())
        if not parse_site_admins(values):
            warnings.append("no super admins found in sitemeta" if not values
                            else "unreadable site_admins in sitemeta: nobody is an operator")
    usermeta = network.core.usermeta
    rows = conn.execute(select(usermeta.c.user_id, usermeta.c.meta_key, usermeta.c.meta_value)
                        .where(usermeta.c.meta_key.like(f"{network.base_prefix}%capabilities"))
                        .order_by(usermeta.c.umeta_id))
    unreadable = 0
    for user_id, key, value in rows:
        if capabilities_site(network, key) is not None:
            try:
                read_capabilities(value)
            except PhpSerializeError:
                unreadable += 1
                log.warning("unreadable WordPress value: usermeta %s of user %s grants no role", key, user_id)
    if unreadable:  # health is unsigned: counts only, the users and keys are in the log
        warnings.append(f"{unreadable} unreadable capabilities values in usermeta: those users have no role there "
                        "(the log names them)")
    return warnings
