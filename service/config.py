"""Configuration from ``LOP_*`` environment variables (the README lists them all).

A missing or malformed value raises ConfigError naming the variable; the command line turns that into
one line on stderr and a non-zero exit.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from rules.roles import RoleSlugs
from rules.school_year import parse_switch_day


class ConfigError(Exception):
    def __init__(self, variable: str, message: str):
        super().__init__(f"{variable}: {message}")
        self.variable = variable


DEFAULT_DATABASE_FILE = "lop-sidecar.sqlite"
MIN_SECRET_LENGTH = 16


@dataclass(frozen=True)
class Config:
    database_url: str
    table_prefix: str = "wp_"
    shared_secrets: tuple[str, ...] = field(default=(), repr=False)
    ov_api_url: str | None = None
    ov_api_key: str | None = field(default=None, repr=False)
    agodi_url: str | None = None
    smtp_url: str | None = field(default=None, repr=False)
    mail_from: str | None = None
    timezone: str = "Europe/Brussels"
    role_slugs: RoleSlugs = RoleSlugs()
    school_year_switch: str = "08-01"  # MM-DD: the day the next school year becomes the current one
    network_id: int = 1  # the WordPress network served (wp_site.id)
    archive_dir: str = "."  # where the log archives of purged sites are written
    # feeds: the whole fetch of a run (every page, retry and wait) ends at its deadline; one read waits at most
    # the read timeout for the next bytes (a drip resets it, the deadline does not)
    ov_deadline_seconds: int = 1800
    ov_read_timeout_seconds: int = 60
    agodi_deadline_seconds: int = 600

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def _http_url(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    if not value:
        return None
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigError(name, f"expected an http(s) URL, got {value!r}")
    return value.rstrip("/")


def load_config(env: Mapping[str, str] | None = None, *, require_secret: bool = False) -> Config:
    env = os.environ if env is None else env

    database_url = env.get("LOP_DATABASE_URL", "").strip() or f"sqlite:///{os.path.abspath(DEFAULT_DATABASE_FILE)}"
    try:
        backend = make_url(database_url).get_backend_name()
    except ArgumentError:
        raise ConfigError("LOP_DATABASE_URL", "not a database URL (e.g. mysql+mysqlconnector://user:pw@host/db)") from None
    if backend not in ("sqlite", "mysql", "mariadb"):
        raise ConfigError("LOP_DATABASE_URL", f"unsupported database {backend!r}: use mysql+mysqlconnector:// or sqlite://")

    prefix = env.get("LOP_WP_TABLE_PREFIX", "wp_")
    if not re.fullmatch(r"[A-Za-z0-9_]{1,32}", prefix):
        raise ConfigError("LOP_WP_TABLE_PREFIX", "only letters, digits and underscores (WordPress's $table_prefix)")

    secrets = tuple(s.strip() for s in env.get("LOP_SHARED_SECRET", "").split(",") if s.strip())
    if require_secret and not secrets:
        raise ConfigError("LOP_SHARED_SECRET", "required: the secret shared with the WordPress plugin")
    if any(len(s) < MIN_SECRET_LENGTH for s in secrets):
        raise ConfigError("LOP_SHARED_SECRET", f"each secret needs at least {MIN_SECRET_LENGTH} characters")

    smtp_url = env.get("LOP_SMTP_URL", "").strip() or None
    if smtp_url and urlparse(smtp_url).scheme not in ("smtp", "smtps", "smtp+starttls"):
        raise ConfigError("LOP_SMTP_URL", "expected smtp://host:port, smtps://… or smtp+starttls://…")

    mail_from = env.get("LOP_MAIL_FROM", "").strip() or None
    if mail_from and not re.fullmatch(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+|.*<[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+>", mail_from):
        raise ConfigError("LOP_MAIL_FROM", "expected an e-mail address, optionally as 'Name <address>'")

    timezone = env.get("LOP_TIMEZONE", "").strip() or "Europe/Brussels"
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError("LOP_TIMEZONE", f"unknown time zone {timezone!r}") from None

    switch = env.get("LOP_SCHOOL_YEAR_SWITCH", "").strip() or "08-01"
    try:
        parse_switch_day(switch)
    except ValueError:
        raise ConfigError("LOP_SCHOOL_YEAR_SWITCH", f"expected MM-DD (e.g. 08-01), got {switch!r}") from None

    network = env.get("LOP_NETWORK_ID", "").strip() or "1"
    if not re.fullmatch(r"[1-9][0-9]{0,18}", network):
        raise ConfigError("LOP_NETWORK_ID", f"the id of the WordPress network (wp_site.id), a positive number, got {network!r}")

    ov_deadline = _seconds(env, "LOP_OV_DEADLINE_SECONDS", Config.ov_deadline_seconds)
    ov_read_timeout = _seconds(env, "LOP_OV_READ_TIMEOUT_SECONDS", Config.ov_read_timeout_seconds)
    agodi_deadline = _seconds(env, "LOP_AGODI_DEADLINE_SECONDS", Config.agodi_deadline_seconds)

    slugs = RoleSlugs(
        lop_expert=_slug(env, "LOP_ROLE_LOP_EXPERT", RoleSlugs.lop_expert),
        school_admin=_slug(env, "LOP_ROLE_SCHOOL_ADMIN", RoleSlugs.school_admin),
    )
    return Config(
        database_url=database_url,
        table_prefix=prefix,
        shared_secrets=secrets,
        ov_api_url=_http_url(env, "LOP_OV_API_URL"),
        ov_api_key=env.get("LOP_OV_API_KEY", "").strip() or None,
        agodi_url=_http_url(env, "LOP_AGODI_URL"),
        smtp_url=smtp_url,
        mail_from=mail_from,
        timezone=timezone,
        role_slugs=slugs,
        school_year_switch=switch,
        network_id=int(network),
        archive_dir=env.get("LOP_ARCHIVE_DIR", "").strip() or ".",
        ov_deadline_seconds=ov_deadline,
        ov_read_timeout_seconds=ov_read_timeout,
        agodi_deadline_seconds=agodi_deadline,
    )


def _seconds(env: Mapping[str, str], name: str, default: int) -> int:
    value = env.get(name, "").strip()
    if not value:
        return default
    if not re.fullmatch(r"[1-9][0-9]{0,5}", value) or int(value) > 86400:
        raise ConfigError(name, f"a number of seconds from 1 to 86400, got {value!r}")
    return int(value)


def _slug(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name, "").strip() or default
    if not re.fullmatch(r"[a-z0-9_-]{1,64}", value):
        raise ConfigError(name, "a WordPress role slug: lower-case letters, digits, '_' and '-'")
    return value
