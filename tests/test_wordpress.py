"""Does real WordPress accept what the sidecar writes? Debian's WordPress (PHP) runs against a MariaDB test
database that WordPress installed itself (issue 4). `.ci/run` installs php-cli, php-mysql and wordpress."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import replace

import pytest
from sqlalchemy import select

from jobs.runner import run_now
from service import create_app
from service.runtime import Runtime
from tests.conftest import DatabaseFactory, SignedClient, SmtpSink, make_config
from tests.wordpress_network import php_env
from tests.wordpress_network import run_php as php
from wp_bridge.db import make_engine
from wp_bridge.site_admin import enable_site
from wp_bridge.sites import Network
from wp_bridge.wp_hashes import fast_hash, generate_reset_key, phpass_hash


@pytest.fixture(scope="module")
def wordpress(tmp_path_factory):
    factory = DatabaseFactory("mysql", tmp_path_factory)
    url = factory.new_url()
    env = php_env(url)
    installed = php("install.php", {**env, "WP_INSTALLING": "1"})[0]
    yield url, env, installed
    factory.drop_all()


def test_wordpress_accepts_the_account_and_key_the_sidecar_writes(wordpress):
    url, env, installed = wordpress
    assert int(installed["db_version"]) < 60421  # Debian's WordPress: the phpass path
    engine, network = make_engine(url), Network("wp_")
    enable_site(engine, network, 1, dt.date.today())
    sink = SmtpSink()
    try:
        runtime = Runtime(replace(make_config(url), smtp_url=sink.url), engine, network)
        client = SignedClient(create_app(runtime=runtime).test_client())
        admin = installed["user_id"]  # WordPress's own administrator: the LOP expert of this single site
        school = client.post("/api/v1/sites/1/schools", user=admin, json={
            "name": "Basisschool Tüv Ülke", "type": "BaO", "vestigingen": [{"instellingsnummer": 4711, "vestigingsnummer": 1}]})
        assert school.status_code == 201, school.json
        added = client.post(f"/api/v1/sites/1/schools/{school.json['id']}/admins", user=admin,
                            json={"email": "Nieuwe.Beheerder@School.Example"})
        assert added.status_code == 201 and added.json["created"], added.json
        um = network.core.usermeta
        with engine.connect() as conn:  # as wp_insert_user() on a single site: no primary_blog, no source_domain
            keys = set(conn.execute(select(um.c.meta_key).where(um.c.user_id == added.json["user_id"])).scalars())
        assert "primary_blog" not in keys and "source_domain" not in keys and "wp_capabilities" in keys
        assert run_now(runtime, "mail-outbox", site_id=None, trigger="cli")["summary"] == "1 sent, 0 to retry, 0 failed"
        text = sink.messages[0].get_payload()[0].get_payload(decode=True).decode()
        key, login = re.search(r"wp-login\.php\?action=rp&key=(\w{20})&login=(\S+)", text).groups()
        checked = php("check.php", env, login, key, "Nieuwe.Beheerder@school.example", str(added.json["user_id"]))[0]
        assert checked["key_accepted"] is True
        assert checked["changed_key_refused"] is True
        assert checked["empty_password_refused"] is True and checked["email_password_refused"] is True
        assert checked["roles"] == ["schoolbeheerder"]
        assert (checked["login"], checked["nicename"], checked["email"]) == (
            "nieuwe.beheerder", "nieuwe-beheerder", "Nieuwe.Beheerder@school.example")
    finally:
        sink.stop()
        engine.dispose()


def test_hashes_match_php():
    """WordPress 6.8's BLAKE2b key hash against PHP's sodium_crypto_generichash; phpass against class-phpass.php."""
    keys = [generate_reset_key() for _ in range(5)] + ["äöü-Ünïcode-sleutel"]
    lines = "".join(f"{key}\t{phpass_hash(key)}\n" for key in keys)
    results = php("hashes.php", {}, stdin=lines)
    assert [r["fast_hash"] for r in results] == [fast_hash(key) for key in keys]
    assert all(r["phpass_ok"] and r["phpass_wrong_refused"] for r in results)
