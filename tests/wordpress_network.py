"""The WordPress network the MariaDB half of the suite runs on, installed by WordPress's own PHP.

Debian's WordPress (``tests/wordpress/*.php``) installs a path-based multisite network on lop.test once
per test session into a template database: ``wp_install()``, ``install_network()``,
``populate_network()``, then two LOP sites by ``wpmu_create_blog()`` and the test users by
``wp_insert_user()`` + ``add_user_to_blog()``. The network's own tables were installed under
``utf8mb4_general_ci`` and the sites it created later under WordPress's default ``utf8mb4_unicode_520_ci``:
the mix of a site whose wp-config changed over the years. Tests get SQL copies of the template.

The "legacy" variant is the same network as an old site upgraded in place has it: its core tables
converted to utf8mb3 (``utf8_general_ci``, before WordPress 4.2) and some of them to latin1.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass

from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

HERE = os.path.join(os.path.dirname(__file__), "wordpress")
VARIANTS = ("mysql", "mysql-legacy")
# core tables converted to latin1 in the legacy variant (the rest to utf8mb3)
LATIN1_TABLES = ("wp_users", "wp_sitemeta", "wp_2_options")
# restored from the template before every test (the options are reset by the fixtures: migrations write there)
RESTORED_TABLES = ("wp_users", "wp_usermeta", "wp_sitemeta", "wp_blogs")


def php_env(url: str, **extra: str) -> dict[str, str]:
    parsed = make_url(url)
    return {"WP_DB_NAME": parsed.database, "WP_DB_USER": parsed.username or "root",
            "WP_DB_PASSWORD": parsed.password or "", "WP_DB_HOST": f"{parsed.host}:{parsed.port or 3306}", **extra}


def run_php(script: str, env: dict, *args: str, stdin: str | None = None) -> list[dict]:
    """Run one of tests/wordpress/*.php; returns the JSON objects it printed, one per line."""
    result = subprocess.run(["php", os.path.join(HERE, script), *args], env={**os.environ, **env}, input=stdin,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


@dataclass(frozen=True)
class WordPressNetwork:
    template: str  # the database WordPress installed
    users: dict[str, int]  # login -> ID, as WordPress assigned them


def install(server: Engine, template_url: str, variant: str) -> WordPressNetwork:
    """Let WordPress install the test network into the (empty) database of ``template_url``."""
    name = make_url(template_url).database
    installed = run_php("install_network.php", php_env(template_url, WP_INSTALLING="1",
                                                          WP_DB_COLLATE="utf8mb4_general_ci"))[0]
    made = run_php("populate_network.php", php_env(template_url, WP_MULTISITE="1"))[0]
    assert installed["user_id"] == made["users"]["operator"] and made["sites"] == [2, 3], made
    if variant == "mysql-legacy":
        with server.connect() as conn:
            for table in _tables(conn, name):
                charset = "latin1 COLLATE latin1_swedish_ci" if table in LATIN1_TABLES else "utf8mb3 COLLATE utf8mb3_general_ci"
                conn.execute(text(f"ALTER TABLE `{name}`.`{table}` CONVERT TO CHARACTER SET {charset}"))
    return WordPressNetwork(name, made["users"])


def copy_into(server: Engine, network: WordPressNetwork, target: str) -> None:
    """Copy every table of the template into the empty database ``target`` (structure, collations, rows)."""
    with server.connect() as conn:
        for table in _tables(conn, network.template):
            conn.execute(text(f"CREATE TABLE `{target}`.`{table}` LIKE `{network.template}`.`{table}`"))
            conn.execute(text(f"INSERT INTO `{target}`.`{table}` SELECT * FROM `{network.template}`.`{table}`"))


def restore_users(conn, network: WordPressNetwork) -> None:
    """Put the users, their meta, the network's meta and the sites back as WordPress made them."""
    database = conn.execute(text("SELECT DATABASE()")).scalar_one()
    for table in RESTORED_TABLES:
        conn.execute(text(f"DELETE FROM `{database}`.`{table}`"))
        conn.execute(text(f"INSERT INTO `{database}`.`{table}` SELECT * FROM `{network.template}`.`{table}`"))


def _tables(conn, database: str) -> list[str]:
    return list(conn.execute(text("SELECT table_name FROM information_schema.tables WHERE table_schema = :db "
                                  "ORDER BY table_name"), {"db": database}).scalars())
