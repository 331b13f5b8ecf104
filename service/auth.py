"""Signed requests (architecture.md, "Request signing") and who the caller is on a site.

Roles always come from the WordPress database; the request only says which user acts.
"""

from __future__ import annotations

import hmac
import re
import time
from dataclasses import dataclass
from urllib.parse import quote

from flask import g, request
from sqlalchemy.exc import DBAPIError

from rules.ids import MAX_ID
from rules.roles import MANAGERS, Role
from wp_bridge.audit import Actor
from wp_bridge.migrations import SITE_SCHEMA_VERSION
from wp_bridge.nonces import remember_nonce
from wp_bridge.sites import WpSite
from wp_bridge.tables import SiteTables, site_tables
from wp_bridge.users import WpUser, load_site_and_user, load_user, roles_on_all_sites

from .errors import ApiError
from .runtime import autocommit_db, db, drop_connections, lost_connection, runtime
from .signing import (
    H_NONCE,
    H_SIGNATURE,
    H_SWITCHED_FROM,
    H_TIMESTAMP,
    H_USER,
    MAX_CLOCK_SKEW_SECONDS,
    NONCE_PATTERN,
    canonical_string,
    signature,
)

# Nonces are kept well past the window in which their timestamp would still be accepted.
NONCE_RETENTION_SECONDS = 3 * MAX_CLOCK_SKEW_SECONDS
NONCE_PRUNE_INTERVAL_SECONDS = 60
_last_prune = 0.0


@dataclass(frozen=True)
class Caller:
    user_id: int  # 0 = the WordPress site itself
    switched_from: int | None


def raw_path_and_query() -> str:
    """The path and query string exactly as the client sent them."""
    environ = request.environ
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        return raw
    path = quote(environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""), safe="/%:@!$&'()*+,;=-._~")
    query = environ.get("QUERY_STRING", "")
    return f"{path}?{query}" if query else path


def _unauthorized(code: str, detail: str) -> ApiError:
    return ApiError(401, code, detail, headers={"WWW-Authenticate": 'LOP-HMAC realm="lop-sidecar"'})


# ASCII digits only: str.isdigit() also accepts "²" and other Unicode digits that int() refuses.
_ID_TEXT = re.compile(r"[0-9]{1,19}")
_TIMESTAMP_TEXT = re.compile(r"[0-9]{1,12}")
_SIGNATURE_TEXT = re.compile(r"v1=[0-9a-f]{64}")


def _user_id_header(name: str, value: str) -> int:
    if not _ID_TEXT.fullmatch(value) or int(value) > MAX_ID:
        raise _unauthorized("auth_malformed", f"De LOP-service weigert de aanvraag: {name} moet een WordPress-gebruikers-ID zijn (cijfers).")
    return int(value)


def verify_signed_request() -> Caller:
    headers = request.headers
    missing = [h for h in (H_TIMESTAMP, H_NONCE, H_USER, H_SIGNATURE) if not headers.get(h)]
    if missing:
        raise _unauthorized("auth_missing", f"missing header(s): {', '.join(missing)}")
    timestamp, nonce, user = headers[H_TIMESTAMP], headers[H_NONCE], headers[H_USER]
    switched = headers.get(H_SWITCHED_FROM, "")
    if not _TIMESTAMP_TEXT.fullmatch(timestamp):
        raise _unauthorized("auth_malformed", f"De LOP-service weigert de aanvraag: {H_TIMESTAMP} moet een Unix-tijd in seconden zijn.")
    if not NONCE_PATTERN.fullmatch(nonce):
        raise _unauthorized("auth_malformed", f"De LOP-service weigert de aanvraag: {H_NONCE} moet 16 tot 64 tekens A-Z a-z 0-9 _ - zijn.")
    user_id = _user_id_header(H_USER, user)
    switched_from = _user_id_header(H_SWITCHED_FROM, switched) if switched else None

    body = request.get_data(cache=True)  # over MAX_CONTENT_LENGTH this raises 413
    canonical = canonical_string(timestamp, nonce, request.method, raw_path_and_query(), user, switched, body)
    given = headers[H_SIGNATURE]
    if not _SIGNATURE_TEXT.fullmatch(given):
        raise _unauthorized("auth_malformed", f"De LOP-service weigert de aanvraag: {H_SIGNATURE} moet v1= en 64 kleine hexadecimale cijfers zijn.")
    if not any(hmac.compare_digest(signature(secret, canonical), given) for secret in runtime().config.shared_secrets):
        raise _unauthorized("auth_bad_signature", "De LOP-service weigert de aanvraag: de handtekening klopt niet (controleer LOP_SIDECAR_SECRET in wp-config.php).")

    now = int(time.time())
    if abs(now - int(timestamp)) > MAX_CLOCK_SKEW_SECONDS:
        raise _unauthorized("auth_stale", f"De LOP-service weigert de aanvraag: de klok van WordPress wijkt meer dan {MAX_CLOCK_SKEW_SECONDS // 60} minuten af van die "
                            "van de LOP-service. Controleer de tijdsynchronisatie (NTP) van beide machines.")
    _store_nonce(nonce, now)
    return Caller(user_id, switched_from)


def _store_nonce(nonce: str, now: int) -> None:
    """Store the nonce in autocommit mode: durable at once and seen by every process, whatever becomes of
    the request. A pooled connection found dead is replaced once; a duplicate after a statement lost on
    the way may be our own nonce, so that is 503 (retry with a new nonce), never a false replay."""
    tables, prune_before = runtime().network_tables, _prune_due(now)
    try:
        with autocommit_db() as conn:
            stored = remember_nonce(conn, tables, nonce, now, prune_before)
    except DBAPIError as error:
        if not lost_connection(error):
            raise
        drop_connections()
        with autocommit_db() as conn:
            if not remember_nonce(conn, tables, nonce, now, prune_before):
                raise ApiError(503, "database_unavailable", "De verbinding met de databank viel weg: er is niets gewijzigd. "
                                                            "Probeer het over enkele seconden opnieuw.", headers={"Retry-After": "5"})
        return
    if not stored:
        raise _unauthorized("auth_replay", "De LOP-service weigert de aanvraag: deze aanvraag werd al eens ontvangen (herhaalde nonce).")


def _prune_due(now: int) -> int | None:
    global _last_prune
    if now - _last_prune < NONCE_PRUNE_INTERVAL_SECONDS:
        return None
    _last_prune = now
    return now - NONCE_RETENTION_SECONDS


def caller() -> Caller:
    return g.caller


@dataclass(frozen=True)
class SiteAccess:
    """The caller as seen on one LOP site."""

    site: WpSite
    tables: SiteTables
    user: WpUser | None  # None for the site itself (user 0)
    role: Role | None
    switched_from: int | None

    @property
    def is_manager(self) -> bool:
        return self.role in MANAGERS

    def require(self, *roles: Role) -> "SiteAccess":
        if self.role not in roles:
            raise ApiError(403, "forbidden", "Je rol op deze site laat dit niet toe.")
        return self

    def actor(self, source: str = "api") -> Actor:
        return Actor(
            user_id=self.user.id if self.user else 0,
            user_login=self.user.login if self.user else "",
            user_role=str(self.role) if self.role else "site",
            source=source,
            switched_from_user_id=self.switched_from,
            request_id=g.get("request_id"),
        )


@dataclass(frozen=True)
class NetworkCaller:
    """The caller on routes not tied to one site."""

    user: WpUser
    operator: bool

    def roles(self) -> dict[int, Role]:
        """The caller's role per site (not counting operator rights)."""
        rt = runtime()
        return roles_on_all_sites(db(), rt.network, self.user, rt.config.role_slugs)


def network_caller(refusal: str) -> NetworkCaller:
    """Who calls, across the network; 403 with ``refusal`` for the site itself (user 0) and unknown users."""
    rt, conn, who = runtime(), db(), caller()
    user = load_user(conn, rt.network, who.user_id) if who.user_id else None
    if user is None:
        raise ApiError(403, "forbidden", refusal)
    operator = user.login in rt.network.super_admin_logins(conn)
    if who.switched_from is not None:
        _check_network_switch(conn, user, operator, who.switched_from)
    return NetworkCaller(user, operator)


def _check_network_switch(conn, user: WpUser, operator: bool, switched_from: int) -> None:
    """On a network route a switch is valid only to a school admin of a site where the real person is an
    operator or the LOP expert; the request then has the school admin's rights (never an operator's)."""
    rt = runtime()
    original = load_user(conn, rt.network, switched_from)
    refused = ApiError(403, "switch_not_allowed",
                       "Enkel een beheerder of de LOP-deskundige van een site kan overschakelen naar een schoolbeheerder van die site.")
    if original is None or operator:
        raise refused
    slugs = rt.config.role_slugs
    acting = roles_on_all_sites(conn, rt.network, user, slugs)
    school_admin_sites = {site for site, role in acting.items() if role is Role.SCHOOL_ADMIN}
    if not school_admin_sites:
        raise refused
    if original.login in rt.network.super_admin_logins(conn):
        return
    managed = {site for site, role in roles_on_all_sites(conn, rt.network, original, slugs).items() if role in MANAGERS}
    if not school_admin_sites & managed:
        raise refused


def site_access(site_id: int) -> SiteAccess:
    rt = runtime()
    conn = db()
    who = caller()
    loaded = load_site_and_user(conn, rt.network, site_id, who.user_id, who.switched_from)
    site = loaded.site
    if site is None or not site.enabled:
        raise ApiError(404, "site_not_found", f"Site {site_id} is geen LOP-site.")
    if site.schema_version < SITE_SCHEMA_VERSION:
        raise ApiError(503, "schema_outdated", f"De tabellen van site {site_id} zijn niet bijgewerkt: de technische beheerder moet lop-sidecar migrate uitvoeren.")
    tables = site_tables(site.prefix)
    if who.user_id == 0:
        if not site.live:
            raise ApiError(404, "site_not_found", f"Site {site_id} is geen actieve LOP-site.")
        return SiteAccess(site, tables, None, None, None)
    if loaded.user is None:
        raise ApiError(403, "user_unknown", f"Gebruiker {who.user_id} bestaat niet.")
    if who.switched_from is not None and loaded.original.role(rt.config.role_slugs) not in MANAGERS:
        raise ApiError(403, "switch_not_allowed",
                       "Enkel een beheerder of de LOP-deskundige van deze site mag als een andere gebruiker werken.")
    role = loaded.role(rt.config.role_slugs)
    if role is None:
        raise ApiError(403, "forbidden", "Je hebt geen rol op deze site.")
    if who.switched_from is not None and role is not Role.SCHOOL_ADMIN:
        raise ApiError(403, "switch_not_allowed", "Overschakelen kan enkel naar een schoolbeheerder van deze site.")
    if not site.live:
        _refuse_inactive(site, role)
    return SiteAccess(site, tables, loaded.user, role, who.switched_from)


_READS = frozenset({"GET", "HEAD", "OPTIONS"})
_STATUS_NL = {"archived": "gearchiveerd", "spam": "als spam gemarkeerd", "deleted": "verwijderd"}


def _refuse_inactive(site: WpSite, role: Role) -> None:
    """An archived, spam or deleted site is not live: nobody but operators sees it, and they only read
    (the log and the exports stay reachable)."""
    if role is not Role.OPERATOR:
        raise ApiError(404, "site_not_found", f"Site {site.id} is geen actieve LOP-site.")
    if request.method not in _READS:
        raise ApiError(409, "site_inactive", f"Site {site.id} is {_STATUS_NL[site.status]} in WordPress: "
                                             "er kan niets meer gewijzigd worden, enkel gelezen.")
