"""SQLAlchemy Core definitions of the WordPress tables the sidecar uses and of its own tables.

Naming follows WordPress: global tables use the base prefix (``wp_``), the tables of site N use
``wp_N_`` (site 1: ``wp_``). The sidecar's own tables are ``{prefix}lop_…``: network-level ones with
the base prefix, per-LOP-site ones with the site's prefix.

Index names carry their table name because SQLite keeps index names in one namespace per database.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    cast,
    text,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal

MYSQL = ("mysql", "mariadb")
# WordPress's ids: bigint(20) unsigned on MySQL; SQLite needs INTEGER for an autoincrementing key.
UBIGINT = BigInteger().with_variant(mysql.BIGINT(unsigned=True), *MYSQL).with_variant(Integer(), "sqlite")
SBIGINT = BigInteger().with_variant(Integer(), "sqlite")
LONGTEXT = Text().with_variant(mysql.LONGTEXT(), *MYSQL)
TINYINT2 = SmallInteger().with_variant(mysql.TINYINT(2), *MYSQL)
# UTC timestamps with microseconds (the audit log orders by them).
UTC_MICROS = DateTime().with_variant(mysql.DATETIME(fsp=6), *MYSQL)
ZERO_DATETIME = text("'0000-00-00 00:00:00'")

# The sidecar's own tables and its connections use one collation; WordPress's tables come in any
# (utf8mb4 general/unicode/unicode_520, utf8mb3, latin1), so text from them meets ours through wp_text().
SIDECAR_CHARSET = "utf8mb4"
SIDECAR_COLLATION = "utf8mb4_unicode_520_ci"
TABLE_OPTIONS = {
    "mysql_engine": "InnoDB",
    "mysql_charset": SIDECAR_CHARSET,
    "mysql_collate": SIDECAR_COLLATION,
}


class wp_text(ColumnElement):  # lower case: it reads like the SQL function it stands for
    """A WordPress column (or any value) as text in the sidecar's charset and collation. UNIONs and
    comparisons that combine WordPress tables need it: two tables in different collations give MySQL's
    "Illegal mix of collations" (1271/1267). A plain cast to text elsewhere."""

    # The wrapped element is part of the statement's cache key: without this SQLAlchemy could not cache the
    # compiled statement and built the per-request UNION anew on every request.
    _traverse_internals = [("element", InternalTraversal.dp_clauseelement)]
    inherit_cache = True
    type = String()

    def __init__(self, element):
        self.element = element


@compiles(wp_text)
def _wp_text_default(element, compiler, **kw):
    return compiler.process(cast(element.element, String), **kw)


@compiles(wp_text, "mysql")
@compiles(wp_text, "mariadb")
def _wp_text_mysql(element, compiler, **kw):
    return f"CONVERT({compiler.process(element.element, **kw)} USING {SIDECAR_CHARSET}) COLLATE {SIDECAR_COLLATION}"


def _table(name: str, metadata: MetaData, *items) -> Table:
    return Table(name, metadata, *items, **TABLE_OPTIONS)


def site_prefix(base_prefix: str, site_id: int) -> str:
    """``wp_`` for site 1, ``wp_N_`` for site N, as WordPress's ``$wpdb->get_blog_prefix()``."""
    return base_prefix if site_id == 1 else f"{base_prefix}{site_id}_"


# --- WordPress core (wp-admin/includes/schema.php) -------------------------------------------


@dataclass(frozen=True)
class CoreGlobalTables:
    metadata: MetaData
    users: Table
    usermeta: Table
    blogs: Table
    site: Table
    sitemeta: Table


@functools.lru_cache(maxsize=None)
def core_global_tables(base_prefix: str) -> CoreGlobalTables:
    md = MetaData()
    p = base_prefix
    users = _table(
        f"{p}users", md,
        Column("ID", UBIGINT, primary_key=True, autoincrement=True),
        Column("user_login", String(60), nullable=False, server_default=""),
        Column("user_pass", String(255), nullable=False, server_default=""),
        Column("user_nicename", String(50), nullable=False, server_default=""),
        Column("user_email", String(100), nullable=False, server_default=""),
        Column("user_url", String(100), nullable=False, server_default=""),
        Column("user_registered", DateTime, nullable=False, server_default=ZERO_DATETIME),
        Column("user_activation_key", String(255), nullable=False, server_default=""),
        Column("user_status", Integer, nullable=False, server_default="0"),
        Column("display_name", String(250), nullable=False, server_default=""),
        # multisite columns (schema.php adds them for a network install)
        Column("spam", TINYINT2, nullable=False, server_default="0"),
        Column("deleted", TINYINT2, nullable=False, server_default="0"),
        Index(f"{p}users_user_login_key", "user_login"),
        Index(f"{p}users_user_nicename", "user_nicename"),
        Index(f"{p}users_user_email", "user_email"),
    )
    usermeta = _table(
        f"{p}usermeta", md,
        Column("umeta_id", UBIGINT, primary_key=True, autoincrement=True),
        Column("user_id", UBIGINT, nullable=False, server_default="0"),
        Column("meta_key", String(255), nullable=True),
        Column("meta_value", LONGTEXT, nullable=True),
        Index(f"{p}usermeta_user_id", "user_id"),
        Index(f"{p}usermeta_meta_key", "meta_key", mysql_length=191),
    )
    blogs = _table(
        f"{p}blogs", md,
        Column("blog_id", SBIGINT, primary_key=True, autoincrement=True),
        Column("site_id", SBIGINT, nullable=False, server_default="0"),
        Column("domain", String(200), nullable=False, server_default=""),
        Column("path", String(100), nullable=False, server_default=""),
        Column("registered", DateTime, nullable=False, server_default=ZERO_DATETIME),
        Column("last_updated", DateTime, nullable=False, server_default=ZERO_DATETIME),
        Column("public", TINYINT2, nullable=False, server_default="1"),
        Column("archived", TINYINT2, nullable=False, server_default="0"),
        Column("mature", TINYINT2, nullable=False, server_default="0"),
        Column("spam", TINYINT2, nullable=False, server_default="0"),
        Column("deleted", TINYINT2, nullable=False, server_default="0"),
        Column("lang_id", Integer, nullable=False, server_default="0"),
        Index(f"{p}blogs_domain", "domain", "path", mysql_length={"domain": 50, "path": 5}),
        Index(f"{p}blogs_lang_id", "lang_id"),
    )
    site = _table(
        f"{p}site", md,
        Column("id", SBIGINT, primary_key=True, autoincrement=True),
        Column("domain", String(200), nullable=False, server_default=""),
        Column("path", String(100), nullable=False, server_default=""),
        Index(f"{p}site_domain", "domain", "path", mysql_length={"domain": 140, "path": 51}),
    )
    sitemeta = _table(
        f"{p}sitemeta", md,
        Column("meta_id", SBIGINT, primary_key=True, autoincrement=True),
        Column("site_id", SBIGINT, nullable=False, server_default="0"),
        Column("meta_key", String(255), nullable=True),
        Column("meta_value", LONGTEXT, nullable=True),
        Index(f"{p}sitemeta_meta_key", "meta_key", mysql_length=191),
        Index(f"{p}sitemeta_site_id", "site_id"),
    )
    return CoreGlobalTables(md, users, usermeta, blogs, site, sitemeta)


@dataclass(frozen=True)
class CoreSiteTables:
    metadata: MetaData
    options: Table
    posts: Table


@functools.lru_cache(maxsize=None)
def core_site_tables(prefix: str) -> CoreSiteTables:
    md = MetaData()
    p = prefix
    options = _table(
        f"{p}options", md,
        Column("option_id", UBIGINT, primary_key=True, autoincrement=True),
        Column("option_name", String(191), nullable=False, server_default=""),
        Column("option_value", LONGTEXT, nullable=False),
        Column("autoload", String(20), nullable=False, server_default="yes"),
        UniqueConstraint("option_name", name=f"{p}options_option_name"),
        Index(f"{p}options_autoload", "autoload"),
    )
    posts = _table(
        f"{p}posts", md,
        Column("ID", UBIGINT, primary_key=True, autoincrement=True),
        Column("post_author", UBIGINT, nullable=False, server_default="0"),
        Column("post_date", DateTime, nullable=False, server_default=ZERO_DATETIME),
        Column("post_date_gmt", DateTime, nullable=False, server_default=ZERO_DATETIME),
        Column("post_content", LONGTEXT, nullable=False),
        Column("post_title", Text, nullable=False),
        Column("post_excerpt", Text, nullable=False),
        Column("post_status", String(20), nullable=False, server_default="publish"),
        Column("comment_status", String(20), nullable=False, server_default="open"),
        Column("ping_status", String(20), nullable=False, server_default="open"),
        Column("post_password", String(255), nullable=False, server_default=""),
        Column("post_name", String(200), nullable=False, server_default=""),
        Column("to_ping", Text, nullable=False),
        Column("pinged", Text, nullable=False),
        Column("post_modified", DateTime, nullable=False, server_default=ZERO_DATETIME),
        Column("post_modified_gmt", DateTime, nullable=False, server_default=ZERO_DATETIME),
        Column("post_content_filtered", LONGTEXT, nullable=False),
        Column("post_parent", UBIGINT, nullable=False, server_default="0"),
        Column("guid", String(255), nullable=False, server_default=""),
        Column("menu_order", Integer, nullable=False, server_default="0"),
        Column("post_type", String(20), nullable=False, server_default="post"),
        Column("post_mime_type", String(100), nullable=False, server_default=""),
        Column("comment_count", SBIGINT, nullable=False, server_default="0"),
        Index(f"{p}posts_post_name", "post_name", mysql_length=191),
        Index(f"{p}posts_type_status_date", "post_type", "post_status", "post_date", "ID"),
        Index(f"{p}posts_post_parent", "post_parent"),
        Index(f"{p}posts_post_author", "post_author"),
    )
    return CoreSiteTables(md, options, posts)


# --- the sidecar's network-level tables ------------------------------------------------------


@dataclass(frozen=True)
class NetworkTables:
    metadata: MetaData
    admgr: Table
    ov_offerings: Table
    job_runs: Table
    schedulers: Table
    request_nonces: Table
    mail_outbox: Table


@functools.lru_cache(maxsize=None)
def network_tables(base_prefix: str) -> NetworkTables:
    md = MetaData()
    p = f"{base_prefix}lop_"
    admgr = _table(
        f"{p}admgr", md,
        Column("code", Integer, primary_key=True, autoincrement=False),
        Column("description", String(255), nullable=False),
        Column("onderwijsniveau", String(50), nullable=True),
        Column("onderwijsvorm", String(20), nullable=True),
        Column("graad", SmallInteger, nullable=True),
        Column("leerjaar", SmallInteger, nullable=True),
        Column("structuuronderdeel", String(50), nullable=True),
        Column("finaliteit", String(50), nullable=True),
        Column("domein", String(255), nullable=True),
        Column("begin_date", Date, nullable=True),
        Column("end_date", Date, nullable=True),
        Column("active", Boolean, nullable=False, server_default=text("1")),
        Column("inactive_since", Date, nullable=True),
        Column("updated_at", UTC_MICROS, nullable=False),
        # the description folded (lower case, no accents) for word search on every backend
        Column("search_text", String(255), nullable=False, server_default=""),
        Column("stage", String(16), nullable=True),  # rules.stages: kleuter, lager, secundair or NULL
        Index(f"{p}admgr_updated", "updated_at"),  # the newest change versions the public tables
    )
    ov_offerings = _table(
        f"{p}ov_offerings", md,
        Column("id", UBIGINT, primary_key=True, autoincrement=True),
        Column("instellingsnummer", Integer, nullable=False),
        Column("vestigingsnummer", Integer, nullable=False),
        Column("admgr_code", Integer, nullable=False),
        Column("description", String(255), nullable=False, server_default=""),
        Column("schooljaar", Integer, nullable=False),
        Column("inschrijvingen", Boolean, nullable=True),
        Column("financierbaar", Boolean, nullable=True),
        Column("begin_date", Date, nullable=True),
        Column("end_date", Date, nullable=True),
        Column("fetched_at", UTC_MICROS, nullable=False),
        Index(f"{p}ov_offerings_location", "instellingsnummer", "vestigingsnummer", "schooljaar"),
        Index(f"{p}ov_offerings_code", "admgr_code"),
        Index(f"{p}ov_offerings_fetched", "fetched_at"),
    )
    job_runs = _table(
        f"{p}job_runs", md,
        Column("id", UBIGINT, primary_key=True, autoincrement=True),
        Column("job", String(64), nullable=False),
        Column("site_id", SBIGINT, nullable=True),
        Column("trigger", String(16), nullable=False),
        Column("requested_by", UBIGINT, nullable=True),
        Column("status", String(16), nullable=False),
        Column("dry_run", Boolean, nullable=False, server_default=text("0")),
        Column("options", Text, nullable=True),
        Column("created_at", UTC_MICROS, nullable=False),
        Column("started_at", UTC_MICROS, nullable=True),
        Column("finished_at", UTC_MICROS, nullable=True),
        Column("progress_done", Integer, nullable=True),
        Column("progress_total", Integer, nullable=True),
        Column("stats", LONGTEXT, nullable=True),
        Column("summary", Text, nullable=True),
        Column("error", Text, nullable=True),
        # One scheduled occurrence ("job:site:fire time") runs once, however many schedulers saw it.
        Column("dedup_key", String(190), nullable=True),
        UniqueConstraint("dedup_key", name=f"{p}job_runs_dedup"),
        Index(f"{p}job_runs_job_site", "job", "site_id", "id"),
        Index(f"{p}job_runs_status", "status"),
    )
    schedulers = _table(
        f"{p}schedulers", md,
        Column("id", String(100), primary_key=True),  # host:pid:random
        Column("started_at", UTC_MICROS, nullable=False),
        Column("heartbeat_at", UTC_MICROS, nullable=False),
        Column("next_runs", Text, nullable=True),  # JSON {job: ISO time}
    )
    request_nonces = _table(
        f"{p}request_nonces", md,
        # case-sensitive: nonces "aB" and "Ab" are different
        Column("nonce", String(64).with_variant(mysql.VARCHAR(64, charset="ascii", collation="ascii_bin"), *MYSQL),
               primary_key=True),
        Column("seen_at", Integer, nullable=False),  # Unix seconds
        Index(f"{p}request_nonces_seen_at", "seen_at"),
    )
    mail_outbox = _table(
        f"{p}mail_outbox", md,
        Column("id", UBIGINT, primary_key=True, autoincrement=True),
        Column("site_id", SBIGINT, nullable=True),
        Column("to_address", String(100), nullable=False),
        Column("subject", String(255), nullable=False),
        Column("body_text", LONGTEXT, nullable=False),
        Column("body_html", LONGTEXT, nullable=True),
        Column("status", String(16), nullable=False, server_default="pending"),
        Column("attempts", Integer, nullable=False, server_default="0"),
        Column("next_attempt_at", UTC_MICROS, nullable=False),
        Column("last_error", Text, nullable=True),
        Column("created_at", UTC_MICROS, nullable=False),
        Column("sent_at", UTC_MICROS, nullable=True),
        Column("user_id", UBIGINT, nullable=True),  # the addressee's WordPress account, where there is one
        Column("purpose", String(32), nullable=True),  # "invitation": cancelled when the admin loses the role
        Index(f"{p}mail_outbox_due", "status", "next_attempt_at"),
        Index(f"{p}mail_outbox_site", "site_id", "id"),
    )
    return NetworkTables(md, admgr, ov_offerings, job_runs, schedulers, request_nonces, mail_outbox)


# --- the sidecar's per-LOP-site tables -------------------------------------------------------


@dataclass(frozen=True)
class SiteTables:
    metadata: MetaData
    schools: Table
    vestigingen: Table
    school_admins: Table
    offerings: Table
    audit_log: Table
    free_places_snapshots: Table


@functools.lru_cache(maxsize=None)
def site_tables(prefix: str) -> SiteTables:
    md = MetaData()
    p = f"{prefix}lop_"
    schools = _table(
        f"{p}schools", md,
        Column("id", UBIGINT, primary_key=True, autoincrement=True),
        Column("name", String(200), nullable=False),
        Column("type", String(8), nullable=False),
        Column("created_at", UTC_MICROS, nullable=False),
        Column("updated_at", UTC_MICROS, nullable=False),
        Index(f"{p}schools_name", "name"),
    )
    vestigingen = _table(
        f"{p}school_vestigingen", md,
        Column("id", UBIGINT, primary_key=True, autoincrement=True),
        Column("school_id", UBIGINT, ForeignKey(schools.c.id, ondelete="CASCADE"), nullable=False),
        Column("instellingsnummer", Integer, nullable=False),
        Column("vestigingsnummer", Integer, nullable=False),
        # A location belongs to one school of the site.
        UniqueConstraint("instellingsnummer", "vestigingsnummer", name=f"{p}school_vestigingen_location"),
        Index(f"{p}school_vestigingen_school", "school_id"),
    )
    school_admins = _table(
        f"{p}school_admins", md,
        Column("school_id", UBIGINT, ForeignKey(schools.c.id, ondelete="CASCADE"), primary_key=True),
        Column("user_id", UBIGINT, primary_key=True, autoincrement=False),
        Column("created_at", UTC_MICROS, nullable=False),
        Column("created_by", UBIGINT, nullable=True),
        Index(f"{p}school_admins_user", "user_id"),
    )
    offerings = _table(
        f"{p}offerings", md,
        Column("id", UBIGINT, primary_key=True, autoincrement=True),
        Column("school_id", UBIGINT, ForeignKey(schools.c.id, ondelete="CASCADE"), nullable=False),
        Column("school_year", String(9), nullable=False),
        Column("admgr_code", Integer, nullable=False),
        Column("capacity", Integer, nullable=True),
        Column("free_places", Integer, nullable=True),
        Column("enrolled", Integer, nullable=True),
        Column("indicator_pct", Numeric(5, 2), nullable=True),
        Column("suffix", String(100), nullable=True),
        Column("extra_info", Text, nullable=True),
        Column("dates", Text, nullable=True),  # JSON list of {"date", "label"}
        Column("version", Integer, nullable=False, server_default="1"),
        Column("created_at", UTC_MICROS, nullable=False),
        Column("updated_at", UTC_MICROS, nullable=False),
        UniqueConstraint("school_id", "school_year", "admgr_code", name=f"{p}offerings_programme"),
        Index(f"{p}offerings_year", "school_year", "school_id"),
    )
    audit_log = _table(
        f"{p}audit_log", md,
        Column("id", UBIGINT, primary_key=True, autoincrement=True),
        Column("occurred_at", UTC_MICROS, nullable=False),
        Column("site_id", SBIGINT, nullable=False),
        Column("user_id", UBIGINT, nullable=False),
        Column("user_login", String(60), nullable=False, server_default=""),
        Column("user_role", String(20), nullable=False, server_default=""),
        Column("switched_from_user_id", UBIGINT, nullable=True),
        Column("source", String(32), nullable=False),
        Column("school_id", UBIGINT, nullable=True),  # no foreign key: the log outlives schools
        Column("entity", String(32), nullable=False),
        Column("entity_id", SBIGINT, nullable=True),
        Column("action", String(32), nullable=False),
        Column("field", String(64), nullable=True),
        Column("old_value", LONGTEXT, nullable=True),
        Column("new_value", LONGTEXT, nullable=True),
        Column("request_id", String(64), nullable=True),
        # What the row was about at the time (JSON {id, admgr_code, name, school_year}; the school's name):
        # the log survives renames, deletions and the rollover.
        Column("offering", Text, nullable=True),
        Column("school_name", String(200), nullable=True),
        Index(f"{p}audit_log_school", "school_id", "id"),
        Index(f"{p}audit_log_user", "user_id", "id"),
        Index(f"{p}audit_log_occurred", "occurred_at", "id"),
        Index(f"{p}audit_log_entity", "entity", "id"),
        Index(f"{p}audit_log_action", "action", "id"),
    )
    free_places_snapshots = _table(
        f"{p}free_places_snapshots", md,
        Column("id", UBIGINT, primary_key=True, autoincrement=True),
        Column("snapshot_date", Date, nullable=False),
        Column("school_year", String(9), nullable=False),
        Column("school_id", UBIGINT, nullable=False),
        Column("school_name", String(200), nullable=False),
        Column("vestigingen", Text, nullable=False),  # JSON, as the school had them that day
        Column("admgr_code", Integer, nullable=False),
        Column("programme", String(255), nullable=False, server_default=""),
        Column("capacity", Integer, nullable=True),
        Column("free_places", Integer, nullable=True),
        Column("enrolled", Integer, nullable=True),
        Column("indicator_pct", Numeric(5, 2), nullable=True),
        Column("suffix", String(100), nullable=True),
        Column("taken_at", UTC_MICROS, nullable=False),
        Column("kind", String(16), nullable=True),  # "1_july", "rollover" or "manual" (NULL: before schema v2)
        Index(f"{p}free_places_snapshots_date", "snapshot_date", "school_id"),
    )
    return SiteTables(md, schools, vestigingen, school_admins, offerings, audit_log, free_places_snapshots)
