"""School admins: the link between a school and a WordPress user, the ``schoolbeheerder`` role on the site,
and new WordPress accounts with a set-password link — written as WordPress itself writes them.

Writing WordPress's tables directly bypasses its object cache and hooks: every write returns what the
WordPress plugin must do afterwards (``WordPressEffects``)."""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from urllib.parse import quote

from sqlalchemy import Connection, bindparam, delete, func, select, update

from rules.emails import login_candidate, nicename_candidate

from .audit import Actor, Change, write_audit
from .db import is_mysql, utcnow
from .effects import WordPressEffects
from .errors import Conflict
from .faults import fault_point
from .locks import ACCOUNTS_LOCK, lock_for_transaction
from .outbox import cancel_invitations, needing_new_invitation
from .php_serialize import PhpSerializeError, serialize
from .sites import WpSite
from .tables import SiteTables, network_tables
from .users import capabilities_key, capabilities_site, parse_capabilities, read_capabilities, user_level_key
from .wp_hashes import activation_key_value, generate_reset_key

CHUNK = 500


class UnreadableWordPressValue(Conflict):
    """A role value WordPress keeps that the sidecar cannot read: never overwritten (409)."""

    def __init__(self, values: list[tuple[int, str]]):
        self.values = values  # (user id, meta key)
        user_id, key = values[0]
        super().__init__("unreadable_wordpress_value",
                         f"De WordPress-rollen van gebruiker {user_id} ({key}) zijn onleesbaar. De LOP-service "
                         "overschrijft ze niet: laat een WordPress-beheerder deze gebruiker nakijken. Er is niets gewijzigd.")


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
    restored: set[int] = field(default_factory=set)  # users whose missing role was given back
    created: dict[str, NewAccount] = field(default_factory=dict)  # email -> account
    users: dict[str, int] = field(default_factory=dict)  # email -> user id
    wordpress: WordPressEffects = field(default_factory=WordPressEffects)
    hashing_seconds: float = 0.0
    invitations: dict[str, int] = field(default_factory=dict)  # email -> outbox id of its invitation (set by the caller)
    reinvited: dict[str, NewAccount] = field(default_factory=dict)  # existing accounts that get a new invitation


def _chunks(items: list, size: int = CHUNK):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _first_equal(conn: Connection, column, *, locking: bool):
    """The lowest user ID whose ``column`` equals the parameter ``v`` as the database compares it (MySQL:
    the column's collation; SQLite: without case)."""
    users = column.table
    equal = column == bindparam("v") if is_mysql(conn) else func.lower(column) == func.lower(bindparam("v"))
    query = select(users.c.ID).where(equal).order_by(users.c.ID).limit(1)
    return query.with_for_update(read=True) if locking else query


def _matching(conn: Connection, column, values: list[str], *, locking: bool = False) -> dict[str, int]:
    """value -> the lowest user ID whose ``column`` equals it as the database compares it (MySQL: the
    column's own collation, so case, trailing spaces and accents count as WordPress's lookups count them;
    SQLite: without case). ``locking`` reads the latest committed rows and locks them (not a snapshot)."""
    users = column.table
    found: dict[str, int] = {}
    if not is_mysql(conn):
        lowered = {v.lower(): v for v in values}
        for chunk in _chunks(sorted(lowered)):
            for user_id, stored in conn.execute(select(users.c.ID, column).where(func.lower(column).in_(chunk))
                                                .order_by(users.c.ID)):
                found.setdefault(lowered[stored.lower()], int(user_id))
        return found
    one = _first_equal(conn, column, locking=locking)
    for chunk in _chunks(sorted(set(values))):
        # One query finds every stored value the database holds equal to one of the chunk. A value with
        # exactly one such row, of exactly its own spelling, is that user; the database alone decides the
        # rest (other spellings, duplicates, accents, trailing spaces), one question each.
        query = select(users.c.ID, column).where(column.in_(chunk))
        rows = conn.execute(query.with_for_update(read=True) if locking else query).all()
        if not rows:
            continue
        by_lower: dict[str, list[tuple[int, str]]] = defaultdict(list)
        for user_id, stored in rows:
            by_lower[stored.lower()].append((int(user_id), stored))
        unexplained = set(by_lower) - {value.lower() for value in chunk}
        for value in chunk:
            candidates = by_lower.get(value.lower(), [])
            if len(candidates) == 1 and candidates[0][1] == value:
                found[value] = candidates[0][0]
            elif candidates or unexplained:
                user_id = conn.execute(one, {"v": value}).scalar()
                if user_id is not None:
                    found[value] = int(user_id)
    return found


def users_by_email(conn: Connection, network, emails: list[str], *, locking: bool = False) -> dict[str, int]:
    """Existing users by address (as given), compared as WordPress's ``email_exists()`` compares."""
    return _matching(conn, network.core.users.c.user_email, emails, locking=locking)


def add_admins(conn: Connection, network, t: SiteTables, site: WpSite, db_version: int,
               requests: list[tuple[int, str]], actor: Actor, role: str) -> AddResult:
    """Link each (school, normalised e-mail): existing users get ``role`` on this site if they lack it
    (their other roles stay; a link whose role was removed in WordPress gets it back); new addresses get a
    WordPress account and a set-password key, as ``wp_insert_user()`` + ``add_user_to_blog()`` write them.
    All inside the caller's transaction, in bulk statements, under the network-wide accounts lock held
    until that transaction ends: two requests can neither create the same user twice nor interleave their
    reads and writes of one user's roles (everything is read again after the lock, by locking reads)."""
    result = AddResult()
    emails = sorted({email for _school, email in requests})
    known = users_by_email(conn, network, emails)
    maybe_new = [e for e in emails if e not in known]
    keys = _reset_keys(maybe_new, db_version, result)  # hashing (slow for phpass) before the lock
    lock_for_transaction(conn, ACCOUNTS_LOCK)
    # the addresses that were new may have been created by others meanwhile: a read that sees their commits
    existing = {**known, **users_by_email(conn, network, maybe_new, locking=True)}
    # Addresses are ASCII (rules.emails): two that differ only in case are one address to WordPress's
    # case-insensitive collations; the first in order gets the account, the others link to it.
    first_of: dict[str, str] = {}
    for email in emails:
        first_of.setdefault(email.lower(), email)
    new = [e for e in maybe_new if e not in existing and first_of[e.lower()] == e]
    if new:
        _create_accounts(conn, network, site, {e: keys[e] for e in new}, result)
        fault_point("import.accounts_created")  # also the single add of an admin: a test arms it for an import
    for email in emails:
        first = first_of[email.lower()]
        result.users[email] = existing.get(email) or existing.get(first) or result.created[first].user_id
    wanted = {(school, result.users[email]) for school, email in requests}
    present = set()
    for chunk in _chunks(sorted({u for _s, u in wanted})):
        present |= {(int(s), int(u)) for s, u in conn.execute(
            select(t.school_admins.c.school_id, t.school_admins.c.user_id).where(t.school_admins.c.user_id.in_(chunk))
            .with_for_update(read=True))}
    new_links = sorted(wanted - present)
    result.already = sorted(wanted & present)
    result.linked = new_links
    created_ids = {a.user_id for a in result.created.values()}
    _invite_again(conn, network, site, db_version, [u for _s, u in new_links if u not in created_ids], result)
    for account in result.created.values():  # WordPress: user_register, then add_user_to_blog
        result.wordpress.action("user_register", account.user_id, site.id, role)
    granted = _grant_role(conn, network, site, sorted({u for _s, u in wanted}), role, result.wordpress)
    result.restored = granted & {u for _s, u in result.already} - {u for _s, u in new_links}
    fault_point("import.roles_granted")
    changes = [Change("school_admin", "add", u, s, new={"user_id": u, "email": email_of(result, u),
                                                        "account_created": u in created_ids})
               for s, u in new_links]
    changes += [Change("school_admin", "restore_role", u, s, new={"user_id": u, "role": role})
                for s, u in result.already if u in result.restored]
    if new_links:
        conn.execute(t.school_admins.insert(), [{"school_id": s, "user_id": u, "created_at": utcnow(),
                                                 "created_by": actor.user_id or None} for s, u in new_links])
    if changes:
        write_audit(conn, t, site.id, actor, changes)
    return result


def _invite_again(conn: Connection, network, site: WpSite, db_version: int, user_ids: list[int], result: AddResult) -> None:
    """Existing users who never set their password and whose invitations here all lapsed (removed before the
    mail went out, or expired) get a new set-password key: the caller queues their invitation as for a new
    account (``result.reinvited``)."""
    users = network.core.users
    lapsed = needing_new_invitation(conn, network_tables(network.base_prefix).mail_outbox, site.id, user_ids)
    if not lapsed:
        return
    rows = conn.execute(select(users.c.ID, users.c.user_login, users.c.user_email)
                        .where(users.c.ID.in_(sorted(lapsed)), users.c.user_activation_key != "")).all()
    keys = _reset_keys([row.user_email for row in rows], db_version, result)
    for row in rows:
        conn.execute(update(users).where(users.c.ID == row.ID).values(user_activation_key=keys[row.user_email][1]))
        email = email_of(result, int(row.ID)) or row.user_email
        result.reinvited[email] = NewAccount(int(row.ID), row.user_login, row.user_email, keys[row.user_email][0])


def email_of(result: AddResult, user_id: int) -> str | None:
    return next((e for e, u in result.users.items() if u == user_id), None)


def _reset_keys(emails: list[str], db_version: int, result: AddResult) -> dict[str, tuple[str, str]]:
    """email -> (plain set-password key, the value stored in user_activation_key)."""
    unix = int(time.time())
    keys = {}
    started = time.perf_counter()
    for email in emails:
        key = generate_reset_key()
        keys[email] = (key, activation_key_value(key, unix, db_version))
    result.hashing_seconds += time.perf_counter() - started
    return keys


def _unique_names(conn: Connection, column, bases: list[str], limit: int) -> list[str]:
    """For each base, the base or ``base-2``, ``base-3`` … that no stored value of ``column`` equals as the
    database compares (read under the accounts lock) and that no earlier name of this batch took."""
    stored = _matching(conn, column, bases, locking=True)
    one = _first_equal(conn, column, locking=True)
    taken: set[str] = set()  # this batch: generated names are lower-case ASCII, so plain equality is the collation's
    names = []
    for base in bases:
        n, name = 1, base
        # a base the first query found free is free; a suffixed name is always asked
        while name in taken or ((name != base or base in stored) and conn.execute(one, {"v": name}).first() is not None):
            n += 1
            name = base[:limit - len(f"-{n}")] + f"-{n}"
        taken.add(name)
        names.append(name)
    return names


def _create_accounts(conn: Connection, network, site: WpSite, keys: dict[str, tuple[str, str]], result: AddResult) -> None:
    users, usermeta = network.core.users, network.core.usermeta
    emails = sorted(keys)
    logins = _unique_names(conn, users.c.user_login, [login_candidate(e) for e in emails], 60)
    nicenames = _unique_names(conn, users.c.user_nicename, [nicename_candidate(login) for login in logins], 50)
    now = utcnow().replace(microsecond=0)
    rows = [{"user_login": login, "user_pass": "", "user_nicename": nicename, "user_email": email, "user_url": "",
             "user_registered": now, "user_activation_key": keys[email][1], "user_status": 0, "display_name": login}
            for email, login, nicename in zip(emails, logins, nicenames, strict=True)]
    for chunk in _chunks(rows):
        conn.execute(users.insert(), chunk)
    ids = {}
    for chunk in _chunks(logins):
        ids.update({login: int(i) for i, login, email in conn.execute(
            select(users.c.ID, users.c.user_login, users.c.user_email).where(users.c.user_login.in_(chunk)))
            if keys.get(email)})  # the rows just written: their login and address
    meta = []
    for email, login in zip(emails, logins, strict=True):
        user_id = ids[login]
        result.created[email] = NewAccount(user_id, login, email, keys[email][0])
        # The usermeta wp_insert_user() writes for a new user (the role follows in _grant_role).
        meta += [{"user_id": user_id, "meta_key": k, "meta_value": v} for k, v in (
            ("nickname", login), ("first_name", ""), ("last_name", ""), ("description", ""), ("rich_editing", "true"),
            ("syntax_highlighting", "true"), ("comment_shortcuts", "false"), ("admin_color", "fresh"), ("use_ssl", "0"),
            ("show_admin_bar_front", "true"), ("locale", ""))]
    for chunk in _chunks(meta, 2000):
        conn.execute(usermeta.insert(), chunk)


def _user_meta(conn: Connection, network, user_ids: list[int], keys: list[str]) -> dict[int, dict[str, tuple[int, str]]]:
    """user -> meta key -> (umeta_id, value), for the given keys (the first row of each, as WordPress reads)."""
    usermeta = network.core.usermeta
    current: dict[int, dict[str, tuple[int, str]]] = defaultdict(dict)
    for chunk in _chunks(user_ids):
        for umeta_id, user_id, key, value in conn.execute(
                select(usermeta.c.umeta_id, usermeta.c.user_id, usermeta.c.meta_key, usermeta.c.meta_value)
                .where(usermeta.c.user_id.in_(chunk), usermeta.c.meta_key.in_(keys)).order_by(usermeta.c.umeta_id)
                .with_for_update()):
            current[int(user_id)].setdefault(key, (int(umeta_id), value))
    return current


def _grant_role(conn: Connection, network, site: WpSite, user_ids: list[int], role: str,
                effects: WordPressEffects) -> set[int]:
    """``add_user_to_blog()`` for users who lack ``role`` on the site, keeping every other role; on a network
    a user without a primary site gets this one (and its domain as source_domain). Returns who changed.
    Refuses (nothing written) when a user's stored roles are unreadable."""
    usermeta = network.core.usermeta
    caps_key, level_key = capabilities_key(network, site.id), user_level_key(network, site.id)
    multisite = network.is_multisite(conn)
    current = _user_meta(conn, network, user_ids, [caps_key, level_key, "primary_blog", "source_domain"])
    inserts, updates, changed, unreadable = [], [], set(), []
    for user_id in user_ids:
        caps_row = current[user_id].get(caps_key)
        try:
            roles = dict(read_capabilities(caps_row[1] if caps_row else None))
        except PhpSerializeError:
            unreadable.append((user_id, caps_key))
            continue
        if roles.get(role) is True:
            continue
        roles[role] = True
        changed.add(user_id)
        effects.action("add_user_to_blog", user_id, site.id, role)
        values = {caps_key: serialize(roles)}
        if level_key not in current[user_id]:
            values[level_key] = "0"
        if multisite and (current[user_id].get("primary_blog") or (0, ""))[1] in ("", "0"):  # empty to PHP
            values["primary_blog"] = str(site.id)
            values["source_domain"] = _domain(conn, network, site.id)
        for key, value in values.items():
            row = current[user_id].get(key)
            if row:
                updates.append({"b_id": row[0], "value": value})
            else:
                inserts.append({"user_id": user_id, "meta_key": key, "meta_value": value})
    if unreadable:
        raise UnreadableWordPressValue(unreadable)
    if inserts:
        conn.execute(usermeta.insert(), inserts)
    if updates:
        conn.execute(update(usermeta).where(usermeta.c.umeta_id == bindparam("b_id")).values(meta_value=bindparam("value")),
                     updates)
    return changed


def _domain(conn: Connection, network, site_id: int) -> str:
    blogs = network.core.blogs
    return conn.execute(select(blogs.c.domain).where(blogs.c.blog_id == site_id)).scalar() or ""


def remove_admin(conn: Connection, network, t: SiteTables, site_id: int, school_id: int, user_id: int,
                 actor: Actor, role: str) -> tuple[bool, WordPressEffects] | None:
    """Unlink; without any other school on this site the user loses ``role`` here. Other roles stay; with
    none left it is WordPress's ``remove_user_from_blog()``. The WordPress user is never deleted. None when
    there was no such link; else (role removed, what the plugin must do)."""
    lock_for_transaction(conn, ACCOUNTS_LOCK)  # no add of this user may interleave with the role check
    link = t.school_admins.c.school_id == school_id, t.school_admins.c.user_id == user_id
    if not conn.execute(delete(t.school_admins).where(*link)).rowcount:
        return None
    effects = WordPressEffects()
    role_removed = bool(revoke_where_unlinked(conn, network, t, site_id, [user_id], role, effects))
    write_audit(conn, t, site_id, actor, [Change("school_admin", "remove", user_id, school_id,
                                                 old={"user_id": user_id}, new={"role_removed": role_removed})])
    return role_removed, effects


def linked_admins(conn: Connection, t: SiteTables, school_id: int) -> list[int]:
    return sorted(int(u) for u in conn.execute(
        select(t.school_admins.c.user_id).where(t.school_admins.c.school_id == school_id)).scalars())


def revoke_where_unlinked(conn: Connection, network, t: SiteTables, site_id: int, user_ids: list[int], role: str,
                          effects: WordPressEffects) -> set[int]:
    """Users among ``user_ids`` linked to no school of this site any more lose ``role`` here (after an
    unlink or a school's deletion), and their invitation mails of this site not yet sent are cancelled, so
    that nobody removed still receives a set-password link. Returns whose role was removed."""
    lock_for_transaction(conn, ACCOUNTS_LOCK)
    removed, unlinked = set(), []
    for user_id in user_ids:
        effects.user_changed(user_id)
        others = conn.execute(select(t.school_admins.c.school_id).where(t.school_admins.c.user_id == user_id)
                              .with_for_update(read=True)).first() is not None
        if others:
            continue
        unlinked.append(user_id)
        if _revoke_role(conn, network, site_id, user_id, role, effects):
            removed.add(user_id)
    cancel_invitations(conn, network_tables(network.base_prefix).mail_outbox, site_id, unlinked)
    return removed


def _revoke_role(conn: Connection, network, site_id: int, user_id: int, role: str, effects: WordPressEffects) -> bool:
    usermeta = network.core.usermeta
    caps_key = capabilities_key(network, site_id)
    row = _user_meta(conn, network, [user_id], [caps_key])[user_id].get(caps_key)
    try:
        roles = dict(read_capabilities(row[1] if row else None))
    except PhpSerializeError:
        raise UnreadableWordPressValue([(user_id, caps_key)]) from None
    if role not in roles:
        return False
    del roles[role]
    if roles:  # other roles or capabilities on this site stay
        conn.execute(update(usermeta).where(usermeta.c.umeta_id == row[0]).values(meta_value=serialize(roles)))
        return True
    _remove_user_from_blog(conn, network, site_id, user_id)
    effects.action("remove_user_from_blog", user_id, site_id, role)
    return True


def _remove_user_from_blog(conn: Connection, network, site_id: int, user_id: int) -> None:
    """As WordPress's ``remove_user_from_blog()``: a primary site that is this one moves to the user's first
    other live site (or to none), then the capabilities and user level rows of this site go."""
    usermeta = network.core.usermeta
    caps_key, level_key = capabilities_key(network, site_id), user_level_key(network, site_id)
    if network.is_multisite(conn):
        meta = _user_meta(conn, network, [user_id], ["primary_blog", "source_domain"])[user_id]
        other = _first_other_site(conn, network, user_id, site_id)
        # a primary site that is this one moves; a user left with no site at all has none
        if (meta.get("primary_blog") or (0, ""))[1] == str(site_id) or other is None:
            values = {"primary_blog": str(other[0]) if other else "", "source_domain": other[1] if other else ""}
            for key, value in values.items():
                if key in meta:
                    conn.execute(update(usermeta).where(usermeta.c.umeta_id == meta[key][0]).values(meta_value=value))
                else:
                    conn.execute(usermeta.insert().values(user_id=user_id, meta_key=key, meta_value=value))
    conn.execute(delete(usermeta).where(usermeta.c.user_id == user_id, usermeta.c.meta_key.in_([caps_key, level_key])))


def _first_other_site(conn: Connection, network, user_id: int, site_id: int) -> tuple[int, str] | None:
    """The live site with the lowest id, other than ``site_id``, on which the user has a capabilities row
    (WordPress's ``get_blogs_of_user()``)."""
    usermeta, blogs = network.core.usermeta, network.core.blogs
    keys = conn.execute(select(usermeta.c.meta_key).where(usermeta.c.user_id == user_id,
                                                          usermeta.c.meta_key.like(f"{network.base_prefix}%capabilities")))
    ids = sorted({capabilities_site(network, k) for k in keys.scalars()} - {None, site_id})
    if not ids:
        return None
    row = conn.execute(select(blogs.c.blog_id, blogs.c.domain).where(
        blogs.c.blog_id.in_(ids), blogs.c.archived == 0, blogs.c.spam == 0, blogs.c.deleted == 0)
        .order_by(blogs.c.blog_id).limit(1)).first()
    return (int(row[0]), row[1]) if row else None


def school_stats(conn: Connection, network, t: SiteTables, site_id: int, role: str) -> dict:
    """school -> its admins; ``role_missing`` when the link exists but WordPress no longer gives the user the
    school admin role on this site (a WordPress admin removed it there)."""
    users, usermeta = network.core.users, network.core.usermeta
    caps = usermeta.alias("caps")
    rows = conn.execute(
        select(t.school_admins.c.school_id, t.school_admins.c.created_at, users.c.ID, users.c.user_email,
               users.c.display_name, users.c.user_activation_key, caps.c.meta_value)
        .join(users, users.c.ID == t.school_admins.c.user_id)
        .outerjoin(caps, (caps.c.user_id == users.c.ID) & (caps.c.meta_key == capabilities_key(network, site_id)))
        .order_by(users.c.user_email)).all()
    admins: dict[int, list[dict]] = defaultdict(list)
    for school_id, since, user_id, email, name, activation, capabilities in rows:
        roles = parse_capabilities(capabilities, user_id=int(user_id), key=capabilities_key(network, site_id))
        admins[int(school_id)].append({"user_id": int(user_id), "email": email, "display_name": name,
                                       "password_set": not activation, "since": since.isoformat() + "Z",
                                       "role_missing": role not in roles})
    return admins


def reset_link(login_url: str, account: NewAccount) -> str:
    """``{login page}?action=rp&key=…&login=…`` (the login page: ``Network.login_url``, as WordPress's own mail
    uses ``network_site_url()``) with the login as PHP's rawurlencode() writes it."""
    return f"{login_url}?action=rp&key={account.key}&login={quote(account.login, safe='-_.~')}"
