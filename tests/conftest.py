"""Fixtures shared by the tests.

Every test that touches the database runs three times: on SQLite, and on a real MariaDB/MySQL
(``LOP_TEST_MYSQL_URL``, default root@127.0.0.1:3306) twice: on a network that WordPress's own PHP
installed, with mixed utf8mb4 collations (``mysql``), and on that network with its core tables converted
to utf8mb3 and latin1 as on an old upgraded site (``mysql-legacy``); see tests/wordpress_network.py.
SQLite gets the sidecar's own core DDL. Each session gets fresh databases; each test starts from the
same small WordPress network. A MariaDB that does not answer fails the run: it is never skipped.
"""

from __future__ import annotations

import json as jsonlib
import os
import uuid
from dataclasses import dataclass

import pytest
from sqlalchemy import create_engine, delete, text
from sqlalchemy.engine import make_url

from rules.school_year import current_school_year
from service import create_app
from service.config import Config
from service.runtime import Runtime
from service.signing import sign_headers
from tests import wordpress_network
from wp_bridge.db import make_engine, utcnow
from wp_bridge.options import set_option
from wp_bridge.php_serialize import serialize
from wp_bridge.site_admin import enable_site
from wp_bridge.sites import Network
from wp_bridge.tables import core_site_tables, network_tables, site_tables
from wp_bridge.wp_install import WORDPRESS_6_8_DB_VERSION, add_site, install_network

SECRET = "test-secret-0123456789abcdef"
OTHER_SECRET = "rotated-secret-abcdef0123456789"
MYSQL_URL = os.environ.get("LOP_TEST_MYSQL_URL", "mysql+mysqlconnector://root@127.0.0.1:3306/")
BACKENDS = ["sqlite", *wordpress_network.VARIANTS]


class DatabaseFactory:
    """Creates empty databases on one backend and drops them at the end of the session."""

    def __init__(self, backend: str, tmp_path_factory):
        self.backend = backend
        self._tmp = tmp_path_factory
        self._created: list[str] = []
        self._wordpress: wordpress_network.WordPressNetwork | None = None
        if backend != "sqlite":
            self._server = create_engine(MYSQL_URL, isolation_level="AUTOCOMMIT")
            try:
                with self._server.connect() as conn:
                    conn.execute(text("SELECT 1"))
            except Exception as exc:  # noqa: BLE001 — any failure means no MariaDB: fail loudly
                pytest.fail(f"MariaDB/MySQL at {MYSQL_URL} does not answer ({type(exc).__name__}): "
                            "the tests need it (set LOP_TEST_MYSQL_URL)", pytrace=False)

    def new_url(self) -> str:
        """An empty database; on MariaDB its default charset is not the sidecar's (the sidecar must not
        depend on it): the database default of an old site is latin1."""
        if self.backend == "sqlite":
            return f"sqlite:///{self._tmp.mktemp('db') / 'lop.sqlite'}"
        name = f"lop_test_{uuid.uuid4().hex[:12]}"
        charset = "latin1" if self.backend == "mysql-legacy" else "utf8mb4 COLLATE utf8mb4_general_ci"
        with self._server.connect() as conn:
            conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET {charset}"))
        self._created.append(name)
        return make_url(MYSQL_URL).set(database=name).render_as_string(hide_password=False)

    def wordpress(self) -> wordpress_network.WordPressNetwork:
        """The network WordPress installed for this session (once), on MariaDB."""
        if self._wordpress is None:
            self._wordpress = wordpress_network.install(self._server, self.new_url(), self.backend)
        return self._wordpress

    def new_wordpress_url(self) -> str:
        """A database holding an SQL copy of the network WordPress installed."""
        url = self.new_url()
        wordpress_network.copy_into(self._server, self.wordpress(), make_url(url).database)
        return url

    def drop_all(self) -> None:
        if self.backend != "sqlite":
            with self._server.connect() as conn:
                for name in self._created:
                    conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
            self._server.dispose()


@pytest.fixture(scope="session")
def database_factories(tmp_path_factory):
    """One DatabaseFactory per backend for the whole session (WordPress installs each variant once)."""
    factories: dict[str, DatabaseFactory] = {}
    yield lambda backend: factories.setdefault(backend, DatabaseFactory(backend, tmp_path_factory))
    for factory in factories.values():
        factory.drop_all()


@pytest.fixture(scope="session", params=BACKENDS)
def databases(request, database_factories):
    return database_factories(request.param)


@pytest.fixture(scope="session", params=wordpress_network.VARIANTS)
def wordpress_databases(request, database_factories):
    """For tests of what only MariaDB has (collations, charsets, WordPress's PHP): its two variants."""
    return database_factories(request.param)


@pytest.fixture
def backend(databases) -> str:
    return databases.backend


def make_config(url: str, **overrides) -> Config:
    return Config(database_url=url, shared_secrets=(SECRET, OTHER_SECRET), **overrides)


@pytest.fixture(scope="session")
def rt(databases) -> Runtime:
    """One database per backend with a WordPress network of sites 1–3; sites 2 and 3 are LOP sites. On
    MariaDB the network WordPress installed, on SQLite the sidecar's own core DDL."""
    if databases.backend == "sqlite":
        url = databases.new_url()
        runtime = Runtime(make_config(url), make_engine(url), Network("wp_"))
        with runtime.engine.begin() as conn:
            install_network(conn, runtime.network, domain="lop.test", name="Portaal")
            add_site(conn, runtime.network, 2, domain="lop.test", path="/bao/", name="LOP Test BaO")
            add_site(conn, runtime.network, 3, domain="lop.test", path="/so/", name="LOP Test SO")
    else:
        url = databases.new_wordpress_url()
        runtime = Runtime(make_config(url), make_engine(url), Network("wp_"))
    for site_id in (2, 3):
        enable_site(runtime.engine, runtime.network, site_id, runtime.today())
    yield runtime
    runtime.engine.dispose()


@dataclass
class Users:
    operator: int
    expert2: int  # administrator (LOP expert) of site 2
    expert3: int
    admin2: int  # schoolbeheerder on site 2
    admin2_other: int  # schoolbeheerder on site 2, linked to no school by default
    nobody: int  # a subscriber without any sidecar role


def add_user(conn, network: Network, login: str, caps: dict[int, str | None]) -> int:
    """A WordPress user; ``caps`` maps site id to a role name, or to a raw capabilities string."""
    users, usermeta = network.core.users, network.core.usermeta
    user_id = int(conn.execute(users.insert().values(
        user_login=login, user_nicename=login, user_email=f"{login}@example.org",
        user_registered=utcnow().replace(microsecond=0), display_name=login.title(),
    )).inserted_primary_key[0])
    for site_id, role in caps.items():
        value = role if role and role.startswith("a:") else serialize({role: True})
        conn.execute(usermeta.insert().values(user_id=user_id, meta_key=f"{network.prefix(site_id)}capabilities",
                                              meta_value=value))
    return user_id


def _clean(conn, runtime: Runtime) -> None:
    for site_id in (1, 2, 3):
        t = site_tables(runtime.network.prefix(site_id))
        if site_id == 1:
            continue  # site 1 is the portal: no LOP tables
        for table in (t.audit_log, t.offerings, t.school_admins, t.vestigingen, t.schools, t.free_places_snapshots):
            conn.execute(delete(table))
    n = network_tables(runtime.network.base_prefix)
    for table in (n.request_nonces, n.admgr, n.ov_offerings, n.job_runs, n.schedulers, n.mail_outbox):
        conn.execute(delete(table))
    core = runtime.network.core
    for table in (core.usermeta, core.users, core.sitemeta):
        conn.execute(delete(table))
    # options tests may change: back to what the session started with
    for site_id in (2, 3):
        prefix = runtime.network.prefix(site_id)
        options = core_site_tables(prefix).options
        conn.execute(delete(options).where(options.c.option_name == "lop_sidecar_settings"))
        set_option(conn, prefix, "db_version", WORDPRESS_6_8_DB_VERSION)
        set_option(conn, prefix, "lop_sidecar_current_school_year", current_school_year(runtime.today()))


@pytest.fixture
def users(rt, databases) -> Users:
    """A clean network: no schools, no log rows, and these users (on MariaDB: as WordPress made them)."""
    with rt.engine.begin() as conn:
        _clean(conn, rt)
        if databases.backend != "sqlite":
            wordpress = databases.wordpress()
            wordpress_network.restore_users(conn, wordpress)
            ids = wordpress.users
            return Users(operator=ids["operator"], expert2=ids["expert2"], expert3=ids["expert3"],
                         admin2=ids["admin2"], admin2_other=ids["admin2other"], nobody=ids["nobody"])
        network = rt.network
        operator = add_user(conn, network, "operator", {1: "administrator"})
        conn.execute(network.core.sitemeta.insert().values(site_id=1, meta_key="site_admins",
                                                            meta_value=serialize(["operator"])))
        result = Users(
            operator=operator,
            expert2=add_user(conn, network, "expert2", {2: "administrator"}),
            expert3=add_user(conn, network, "expert3", {3: "administrator", 2: "subscriber"}),
            admin2=add_user(conn, network, "admin2", {2: "schoolbeheerder"}),
            admin2_other=add_user(conn, network, "admin2other", {2: "schoolbeheerder"}),
            nobody=add_user(conn, network, "nobody", {2: "subscriber"}),
        )
    return result


@pytest.fixture
def app(rt, users):
    return create_app(runtime=rt)


class SignedClient:
    """A Flask test client that signs every request the way the WordPress plugin does."""

    def __init__(self, client, secret: str = SECRET):
        self.client = client
        self.secret = secret

    def request(self, method: str, path: str, *, user: int = 0, switched_from: int | None = None, json=None,
                data: bytes | None = None, headers: dict | None = None):
        body = data if data is not None else (b"" if json is None else jsonlib.dumps(json).encode())
        signed = sign_headers(self.secret, method, path, user=user, switched_from=switched_from, body=body)
        all_headers = {**signed, **({"Content-Type": "application/json"} if body else {}), **(headers or {})}
        return self.client.open(path, method=method, data=body, headers=all_headers)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def patch(self, path, **kw):
        return self.request("PATCH", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)


@pytest.fixture
def client(app) -> SignedClient:
    return SignedClient(app.test_client())


@pytest.fixture
def schools(client, users) -> list[int]:
    """Two BaO schools on site 2, De Linde (4711) and Het Kompas (4712), made by its LOP expert."""
    ids = []
    for name, number in (("De Linde", 4711), ("Het Kompas", 4712)):
        ids.append(client.post("/api/v1/sites/2/schools", user=users.expert2, json={
            "name": name, "type": "BaO", "vestigingen": [{"instellingsnummer": number, "vestigingsnummer": 1}]}).json["id"])
    return ids


def count_rows(rt: Runtime, table) -> int:
    from sqlalchemy import func, select

    with rt.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


class SmtpSink:
    """A real SMTP server (aiosmtpd) on a free local port that keeps what it receives."""

    def __init__(self, delay: float = 0.0, port: int | None = None):
        import threading

        from aiosmtpd.controller import Controller

        self.messages: list = []
        self.delay = delay
        self.refuse_data: str | None = None  # e.g. "451 4.3.0 …": every message refused with that reply
        self.refuse_rcpt: dict[str, str] = {}  # address → reply: that recipient refused
        self.received = threading.Event()
        self.data_started = threading.Event()  # a message is being received (set before the delay)
        sink = self

        class Handler:
            async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
                if address in sink.refuse_rcpt:
                    return sink.refuse_rcpt[address]
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, server, session, envelope):
                import asyncio
                import email

                if sink.refuse_data:
                    return sink.refuse_data
                sink.data_started.set()
                if sink.delay:
                    await asyncio.sleep(sink.delay)
                sink.messages.append(email.message_from_bytes(envelope.content))
                sink.received.set()
                return "250 OK"

        import socket

        if port is None:
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=port)
        self.controller.start()
        self.url = f"smtp://127.0.0.1:{port}"

    def stop(self):
        self.controller.stop()


@pytest.fixture
def smtp():
    sink = SmtpSink()
    yield sink
    sink.stop()
