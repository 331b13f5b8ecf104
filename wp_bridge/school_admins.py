"""School admins: the link between a school and a WordPress user, the ``schoolbeheerder`` role on the site,
and new WordPress accounts with a set-password link — written as WordPress itself writes them.

Writing WordPress's tables directly bypasses its object cache: every function returns the user ids the
WordPress plugin must clear (``clean_user_cache``)."""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from urllib.parse import quote

from sqlalchemy import Connection, bindparam, delete, func, select, update

from rules.emails import login_candidate, nicename_candidate, unique

from .audit import Actor, Change, write_audit
from .db import is_mysql, utcnow
from .php_serialize import PhpSerializeError, serialize, unserialize
from .sites import WpSite
from .tables import NetworkTables, SiteTables
from .users import capabilities_key
from .wp_hashes import activation_key_value, generate_reset_key

CHUNK = 500


@dataclass
class NewAccount:
    user_id: int
    login: str
    email: str
    key: str  # the plain reset key: only ever put in the e-mail


@dataclass
class AddResult:
    linked: list[tuple[int, int]] = field(default_factory=list)  # (school, user) newly linked
    already: list[tuple[int, int]] = field(default_factory=list)
    created: dict[str, NewAccount] = field(default_factory=dict)  # email -> account
    users: dict[str, int] = field(default_factory=dict)  # email -> user id
    invalidate: set[int] = field(default_factory=set)
    hashing_seconds: float = 0.0


def _chunks(items: list, size: int = CHUNK):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def users_by_email(conn: Connection, network, emails: list[str]) -> dict[str, int]:
    """Existing users by address (compared without case, as MySQL's collation does)."""
    users = network.core.users
    found: dict[str, int] = {}
    lowered = sorted({e.lower() for e in emails})
    # MySQL compares without case in WordPress's collation and can use the user_email index; SQLite cannot.
    column = users.c.user_email if is_mysql(conn) else func.lower(users.c.user_email)
    for chunk in _chunks(lowered):
        for user_id, email in conn.execute(select(users.c.ID, users.c.user_email)
                                           .where(column.in_(chunk)).order_by(users.c.ID)):
            found.setdefault(email.lower(), int(user_id))
    return found


def add_admins(conn: Connection, network, nt: NetworkTables, t: SiteTables, site: WpSite, db_version: int,
               requests: list[tuple[int, str]], actor: Actor) -> AddResult:
    """Link each (school, normalised e-mail): existing users get the role on this site if they lack it (their
    other roles stay); new addresses get a WordPress account and a set-password key. All inside the
    caller's transaction, in bulk statements."""
    result = AddResult()
    emails = sorted({email for _school, email in requests})
    existing = users_by_email(conn, network, emails)
    new_emails = [e for e in emails if e.lower() not in existing]
    if new_emails:
        _create_accounts(conn, network, site, db_version, new_emails, result)
    for email in emails:
        result.users[email] = existing.get(email.lower()) or result.created[email].user_id
    wanted = {(school, result.users[email]) for school, email in requests}
    present = set()
    for chunk in _chunks(sorted({u for _s, u in wanted})):
        present |= {(int(s), int(u)) for s, u in conn.execute(
            select(t.school_admins.c.school_id, t.school_admins.c.user_id).where(t.school_admins.c.user_id.in_(chunk)))}
    now = utcnow()
    new_links = sorted(wanted - present)
    result.already = sorted(wanted & present)
    result.linked = new_links
    if new_links:
        conn.execute(t.school_admins.insert(), [{"school_id": s, "user_id": u, "created_at": now,
                                                 "created_by": actor.user_id or None} for s, u in new_links])
        granted = _grant_role(conn, network, site.id, sorted({u for _s, u in new_links}))
        result.invalidate |= granted | {u for _s, u in new_links}
        write_audit(conn, t, site.id, actor, [
            Change("school_admin", "add", u, s, new={"user_id": u, "email": email_of(result, u),
                                                     "account_created": u in {a.user_id for a in result.created.values()}})
            for s, u in new_links])
    return result


def email_of(result: AddResult, user_id: int) -> str | None:
    return next((e for e, u in result.users.items() if u == user_id), None)


def _create_accounts(conn: Connection, network, site: WpSite, db_version: int, emails: list[str], result: AddResult) -> None:
    users, usermeta = network.core.users, network.core.usermeta
    logins = set(conn.execute(select(users.c.user_login)).scalars())
    nicenames = set(conn.execute(select(users.c.user_nicename)).scalars())
    now = utcnow().replace(microsecond=0)
    unix = int(time.time())
    rows, keys = [], {}
    for email in emails:
        login = unique(login_candidate(email), logins, 60)
        logins.add(login)
        nicename = unique(nicename_candidate(login), nicenames, 50)
        nicenames.add(nicename)
        key = generate_reset_key()
        started = time.perf_counter()
        activation = activation_key_value(key, unix, db_version)
        result.hashing_seconds += time.perf_counter() - started
        keys[login] = (email, key)
        rows.append({"user_login": login, "user_pass": "", "user_nicename": nicename, "user_email": email,
                     "user_url": "", "user_registered": now, "user_activation_key": activation, "user_status": 0,
                     "display_name": login})
    for chunk in _chunks(rows):
        conn.execute(users.insert(), chunk)
    ids = {}
    for chunk in _chunks(sorted(keys)):
        ids.update({login: int(i) for i, login in conn.execute(
            select(users.c.ID, users.c.user_login).where(users.c.user_login.in_(chunk)))})
    meta = []
    for login, (email, key) in keys.items():
        user_id = ids[login]
        result.created[email] = NewAccount(user_id, login, email, key)
        # The usermeta wp_insert_user() writes for a new user, then the role on this site.
        meta += [{"user_id": user_id, "meta_key": k, "meta_value": v} for k, v in (
            ("nickname", login), ("first_name", ""), ("last_name", ""), ("description", ""), ("rich_editing", "true"),
            ("syntax_highlighting", "true"), ("comment_shortcuts", "false"), ("admin_color", "fresh"), ("use_ssl", "0"),
            ("show_admin_bar_front", "true"), ("locale", ""), ("primary_blog", str(site.id)))]
        result.invalidate.add(user_id)
    for chunk in _chunks(meta, 2000):
        conn.execute(usermeta.insert(), chunk)


def _grant_role(conn: Connection, network, site_id: int, user_ids: list[int], role: str = "schoolbeheerder") -> set[int]:
    """Give ``role`` on the site to users who lack it, keeping every other role. Returns who changed."""
    usermeta = network.core.usermeta
    caps_key, level_key = capabilities_key(network, site_id), f"{network.prefix(site_id)}user_level"
    current: dict[int, dict[str, tuple[int, str]]] = defaultdict(dict)
    for chunk in _chunks(user_ids):
        for umeta_id, user_id, key, value in conn.execute(
                select(usermeta.c.umeta_id, usermeta.c.user_id, usermeta.c.meta_key, usermeta.c.meta_value)
                .where(usermeta.c.user_id.in_(chunk), usermeta.c.meta_key.in_([caps_key, level_key]))):
            current[int(user_id)][key] = (int(umeta_id), value)
    inserts, updates, changed = [], [], set()
    for user_id in user_ids:
        caps_row = current[user_id].get(caps_key)
        roles = _capabilities(caps_row[1] if caps_row else None)
        if roles.get(role) is True:
            continue
        roles[role] = True
        changed.add(user_id)
        value = serialize(roles)
        if caps_row:
            updates.append({"b_id": caps_row[0], "value": value})
        else:
            inserts.append({"user_id": user_id, "meta_key": caps_key, "meta_value": value})
        if level_key not in current[user_id]:
            inserts.append({"user_id": user_id, "meta_key": level_key, "meta_value": "0"})
    if inserts:
        conn.execute(usermeta.insert(), inserts)
    if updates:
        conn.execute(update(usermeta).where(usermeta.c.umeta_id == bindparam("b_id")).values(meta_value=bindparam("value")),
                     updates)
    return changed


def _capabilities(value: str | None) -> dict:
    """The stored capabilities array in its order (roles and any single capabilities); none when absent
    or unreadable."""
    try:
        parsed = unserialize(value) if value else {}
    except PhpSerializeError:
        return {}
    return dict(parsed) if isinstance(parsed, dict) else {}


def remove_admin(conn: Connection, network, t: SiteTables, site_id: int, school_id: int, user_id: int,
                 actor: Actor, role: str = "schoolbeheerder") -> tuple[bool, set[int]]:
    """Unlink; without any other school on this site the user loses the role here (other roles stay; the
    WordPress user is never deleted). Returns (role removed, users whose cache to clear)."""
    deleted = conn.execute(delete(t.school_admins).where(t.school_admins.c.school_id == school_id,
                                                         t.school_admins.c.user_id == user_id)).rowcount
    if not deleted:
        return False, set()
    others = conn.execute(select(func.count()).select_from(t.school_admins)
                          .where(t.school_admins.c.user_id == user_id)).scalar_one()
    role_removed = False
    if not others:
        usermeta = network.core.usermeta
        key = capabilities_key(network, site_id)
        row = conn.execute(select(usermeta.c.umeta_id, usermeta.c.meta_value)
                           .where(usermeta.c.user_id == user_id, usermeta.c.meta_key == key)).first()
        roles = _capabilities(row[1] if row else None)
        if role in roles:
            del roles[role]
            conn.execute(update(usermeta).where(usermeta.c.umeta_id == row[0]).values(meta_value=serialize(roles)))
            role_removed = True
    write_audit(conn, t, site_id, actor, [Change("school_admin", "remove", user_id, school_id,
                                                 old={"user_id": user_id}, new={"role_removed": role_removed})])
    return role_removed, {user_id}


def school_stats(conn: Connection, network, t: SiteTables) -> dict:
    users = network.core.users
    rows = conn.execute(
        select(t.school_admins.c.school_id, t.school_admins.c.created_at, users.c.ID, users.c.user_email,
               users.c.display_name, users.c.user_activation_key)
        .join(users, users.c.ID == t.school_admins.c.user_id)
        .order_by(users.c.user_email)).all()
    admins: dict[int, list[dict]] = defaultdict(list)
    for school_id, since, user_id, email, name, activation in rows:
        admins[int(school_id)].append({"user_id": int(user_id), "email": email, "display_name": name,
                                       "password_set": not activation, "since": since.isoformat() + "Z"})
    return admins


def reset_link(site: WpSite, account: NewAccount) -> str:
    """``{site}/wp-login.php?action=rp&key=…&login=…`` with the login as PHP's rawurlencode() writes it."""
    return f"{site.url}/wp-login.php?action=rp&key={account.key}&login={quote(account.login, safe='-_.~')}"
