"""What WordPress does, done the same way (issue 12, part 4): every user, role and link the sidecar writes,
read back by the database and, on the networks WordPress installed, by WordPress's own PHP."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest
from sqlalchemy import delete, func, select, update

from rules.roles import RoleSlugs
from service import create_app
from service.runtime import Runtime
from tests.conftest import SignedClient, add_user
from tests.test_jobs import fresh_heartbeat
from tests.test_school_admins import SITE, upload, usermeta, workbook_bytes
from tests.wordpress_network import php_env, run_php

CAPS = "wp_2_capabilities"


def wordpress_says(rt, backend, *user_ids, logins=(), emails=()):
    """WordPress's own reading of these users (None on SQLite, where no WordPress runs)."""
    if backend == "sqlite":
        return None
    env = php_env(rt.config.database_url, WP_MULTISITE="1", WP_LOOKUP_LOGINS=",".join(logins),
                  WP_LOOKUP_EMAILS=",".join(emails))
    *people, lookups = run_php("inspect.php", env, *map(str, user_ids))
    return {p["user_id"]: p for p in people}, lookups


def add(client, users, school, email, user=None):
    return client.post(f"/api/v1/sites/{SITE}/schools/{school}/admins", user=user or users.expert2, json={"email": email})


def set_meta(rt, user_id, key, value):
    um = rt.network.core.usermeta
    with rt.engine.begin() as conn:
        if conn.execute(update(um).where(um.c.user_id == user_id, um.c.meta_key == key).values(meta_value=value)).rowcount == 0:
            conn.execute(um.insert().values(user_id=user_id, meta_key=key, meta_value=value))


def test_a_login_that_differs_only_in_case_is_taken(client, rt, users, backend, schools):
    with rt.engine.begin() as conn:
        existing = add_user(conn, rt.network, "JanPeeters", {})
    response = add(client, users, schools[0], "janpeeters@school.example")
    assert response.status_code == 201 and response.json["created"], response.json
    new = response.json["user_id"]
    with rt.engine.connect() as conn:
        login = conn.execute(select(rt.network.core.users.c.user_login).where(rt.network.core.users.c.ID == new)).scalar()
    assert login == "janpeeters-2"
    said = wordpress_says(rt, backend, new, logins=["janpeeters", "janpeeters-2"], emails=["janpeeters@school.example"])
    if said:
        _people, lookups = said
        assert lookups["logins"] == {"janpeeters": existing, "janpeeters-2": new}
        assert lookups["emails"] == {"janpeeters@school.example": new}


def test_an_address_differing_only_in_case_links_the_existing_account(client, rt, users, schools):
    response = add(client, users, schools[0], "ADMIN2@example.org")
    assert response.status_code == 201 and not response.json["created"]
    assert response.json["user_id"] == users.admin2


def test_concurrent_requests_for_one_new_address_create_one_user(rt, users, schools):
    app = create_app(runtime=rt)
    for attempt in range(4):
        email = f"gelijktijdig{attempt}@school.example"
        barrier, answers = threading.Barrier(2), []

        def post(school, barrier=barrier, answers=answers, email=email):
            client = SignedClient(app.test_client())
            barrier.wait()
            answers.append(add(client, users, school, email))

        threads = [threading.Thread(target=post, args=(school,)) for school in schools]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert sorted(a.status_code for a in answers) == [201, 201], [a.json for a in answers]
        users_table = rt.network.core.users
        with rt.engine.connect() as conn:
            count = conn.execute(select(func.count()).select_from(users_table).where(users_table.c.user_email == email)).scalar()
        assert count == 1
        assert sum(a.json["created"] for a in answers) == 1
        assert len({a.json["user_id"] for a in answers}) == 1


def test_roles_with_a_trailing_newline_are_read_as_wordpress_reads_them(client, rt, users, backend, schools):
    set_meta(rt, users.admin2_other, CAPS, 'a:1:{s:6:"editor";b:1;}\n')
    response = add(client, users, schools[0], "admin2other@example.org")
    assert response.status_code == 201, response.json
    assert usermeta(rt, users.admin2_other)[CAPS] == 'a:2:{s:6:"editor";b:1;s:15:"schoolbeheerder";b:1;}'
    said = wordpress_says(rt, backend, users.admin2_other)
    if said:
        assert said[0][users.admin2_other]["roles"]["2"] == ["editor", "schoolbeheerder"]


def test_unreadable_roles_are_never_overwritten(client, rt, users, schools):
    broken = 'a:1:{s:6:"editor";b:1;'  # cut off: WordPress cannot read it either
    set_meta(rt, users.admin2_other, CAPS, broken)
    response = add(client, users, schools[0], "admin2other@example.org")
    assert response.status_code == 409 and response.json["code"] == "unreadable_wordpress_value"
    assert str(users.admin2_other) in response.json["detail"] and CAPS in response.json["detail"]
    assert usermeta(rt, users.admin2_other)[CAPS] == broken
    stats = client.get(f"/api/v1/sites/{SITE}/school-stats", user=users.expert2).json
    assert all(not s["admins"] for s in stats["schools"])
    # in an import it is an error of that row, and nothing of the file is applied
    data = workbook_bytes([("4711", "De Linde", "nieuw@school.example"), ("4712", "Het Kompas", "admin2other@example.org")])
    imported = upload(client, users.expert2, data)
    assert imported.status_code == 422 and imported.json["code"] == "import_invalid"
    assert [(e["row"], e["column"]) for e in imported.json["errors"]] == [(3, "E-mailadres")]
    users_table = rt.network.core.users
    with rt.engine.connect() as conn:
        assert conn.execute(select(users_table.c.ID).where(users_table.c.user_email == "nieuw@school.example")).first() is None
    # authentication fails closed, and the operator is told
    assert client.get(f"/api/v1/sites/{SITE}/schools", user=users.admin2_other).status_code in (403, 404)
    health = client.client.get("/api/v1/health").json
    assert health["warnings"] == ["1 unreadable capabilities values in usermeta: those users have no role there "
                                  "(the log names them)"]
    assert str(users.admin2_other) not in str(health)  # health is unsigned: no user ids


def test_the_configured_role_slug_is_granted_read_and_removed(rt, users, backend, schools):
    config = replace(rt.config, role_slugs=RoleSlugs(school_admin="lop_schoolbeheerder"))
    client = SignedClient(create_app(runtime=Runtime(config, rt.engine, rt.network)).test_client())
    response = add(client, users, schools[0], "admin2other@example.org")
    assert response.status_code == 201, response.json
    assert usermeta(rt, users.admin2_other)[CAPS] == 'a:2:{s:15:"schoolbeheerder";b:1;s:19:"lop_schoolbeheerder";b:1;}'
    assert response.json["wordpress"]["actions"] == [
        {"name": "add_user_to_blog", "user_id": users.admin2_other, "blog_id": SITE, "role": "lop_schoolbeheerder"}]
    assert client.get(f"/api/v1/sites/{SITE}/schools", user=users.admin2_other).status_code == 200
    removed = client.delete(f"/api/v1/sites/{SITE}/schools/{schools[0]}/admins/{users.admin2_other}", user=users.expert2)
    assert removed.status_code == 200 and removed.json["role_removed"]
    assert usermeta(rt, users.admin2_other)[CAPS] == 'a:1:{s:15:"schoolbeheerder";b:1;}'


def test_removing_the_last_role_is_remove_user_from_blog(client, rt, users, backend, schools):
    set_meta(rt, users.admin2, "wp_3_capabilities", 'a:1:{s:10:"subscriber";b:1;}')
    set_meta(rt, users.admin2, "primary_blog", "2")
    set_meta(rt, users.admin2, "source_domain", "lop.test")
    assert add(client, users, schools[0], "admin2@example.org").status_code == 201
    removed = client.delete(f"/api/v1/sites/{SITE}/schools/{schools[0]}/admins/{users.admin2}", user=users.expert2)
    assert removed.status_code == 200 and removed.json["role_removed"]
    assert removed.json["wordpress"]["actions"] == [
        {"name": "remove_user_from_blog", "user_id": users.admin2, "blog_id": SITE, "role": "schoolbeheerder"}]
    assert removed.json["wordpress"]["clean_user_cache"] == [users.admin2] == removed.json["invalidate_user_cache"]
    meta = usermeta(rt, users.admin2)
    assert CAPS not in meta and "wp_2_user_level" not in meta
    assert (meta["primary_blog"], meta["source_domain"]) == ("3", "lop.test")
    said = wordpress_says(rt, backend, users.admin2)
    if said:
        person = said[0][users.admin2]
        assert person["blogs"] == [3] and person["roles"] == {"3": ["subscriber"]} and person["primary_blog"] == "3"


def test_other_roles_on_the_site_stay_when_the_link_goes(client, rt, users, backend, schools):
    assert add(client, users, schools[0], "expert3@example.org").status_code == 201  # a subscriber on site 2
    removed = client.delete(f"/api/v1/sites/{SITE}/schools/{schools[0]}/admins/{users.expert3}", user=users.expert2)
    assert removed.status_code == 200 and removed.json["wordpress"]["actions"] == []
    assert usermeta(rt, users.expert3)[CAPS] == 'a:1:{s:10:"subscriber";b:1;}'


def test_a_role_removed_in_wordpress_shows_and_adding_again_restores_it(client, rt, users, backend, schools):
    assert add(client, users, schools[0], "admin2other@example.org").status_code == 201
    um = rt.network.core.usermeta
    with rt.engine.begin() as conn:  # what WordPress's remove_user_from_blog() leaves
        conn.execute(delete(um).where(um.c.user_id == users.admin2_other, um.c.meta_key.in_([CAPS, "wp_2_user_level"])))
    stats = client.get(f"/api/v1/sites/{SITE}/school-stats", user=users.expert2).json
    admin = next(a for s in stats["schools"] for a in s["admins"])
    assert admin["role_missing"] is True
    assert client.get(f"/api/v1/sites/{SITE}/schools", user=users.admin2_other).status_code in (403, 404)
    again = add(client, users, schools[0], "admin2other@example.org")
    assert again.status_code == 200 and again.json["already_admin"] and again.json["role_restored"]
    assert client.get(f"/api/v1/sites/{SITE}/schools", user=users.admin2_other).status_code == 200
    stats = client.get(f"/api/v1/sites/{SITE}/school-stats", user=users.expert2).json
    assert next(a for s in stats["schools"] for a in s["admins"])["role_missing"] is False
    log = client.get(f"/api/v1/sites/{SITE}/log", user=users.expert2).json
    assert "restore_role" in {entry["action"] for entry in log["entries"]}
    said = wordpress_says(rt, backend, users.admin2_other)
    if said:
        assert said[0][users.admin2_other]["roles"] == {"2": ["schoolbeheerder"]}


def test_new_accounts_as_wp_insert_user_and_add_user_to_blog_write_them(client, rt, users, backend, schools):
    response = add(client, users, schools[0], "jan_de_smet@school.example")
    assert response.status_code == 201, response.json
    user_id = response.json["user_id"]
    assert response.json["wordpress"] == {
        "clean_user_cache": [user_id], "options": [],
        "actions": [{"name": "user_register", "user_id": user_id, "blog_id": SITE, "role": "schoolbeheerder"},
                    {"name": "add_user_to_blog", "user_id": user_id, "blog_id": SITE, "role": "schoolbeheerder"}]}
    meta = usermeta(rt, user_id)
    assert (meta["primary_blog"], meta["source_domain"]) == ("2", "lop.test")
    said = wordpress_says(rt, backend, user_id)
    if said:
        person = said[0][user_id]
        assert (person["login"], person["nicename"]) == ("jan_de_smet", "jan_de_smet")
        assert person["roles"] == {"2": ["schoolbeheerder"]} and person["blogs"] == [2]


def test_an_import_report_file_carries_what_wordpress_must_do(client, rt, users, schools):
    data = workbook_bytes([("4711", "De Linde", "nieuw@school.example")])
    response = upload(client, users.expert2, data, "?report=xlsx")
    assert response.status_code == 200
    import json
    effects = json.loads(response.headers["X-LOP-WordPress"])
    assert [a["name"] for a in effects["actions"]] == ["user_register", "add_user_to_blog"]
    assert " " not in response.headers["X-LOP-WordPress"]


def test_health_warns_when_no_super_admins_are_found(client, rt, users):
    sitemeta = rt.network.core.sitemeta
    with rt.engine.begin() as conn:
        conn.execute(delete(sitemeta).where(sitemeta.c.meta_key == "site_admins"))
    health = client.client.get("/api/v1/health").json
    assert health["warnings"] == ["no super admins found in sitemeta"]
    assert client.get("/api/v1/sites", user=users.operator).status_code == 403


@pytest.fixture
def site_flag(rt):
    """Set one of WordPress's flags on site 2 (archived, spam, deleted); cleared again afterwards."""
    blogs = rt.network.core.blogs

    def flag(name: str, value: int = 1):
        with rt.engine.begin() as conn:
            conn.execute(update(blogs).where(blogs.c.blog_id == SITE).values({name: value}))

    yield flag
    with rt.engine.begin() as conn:
        conn.execute(update(blogs).where(blogs.c.blog_id == SITE).values(archived=0, spam=0, deleted=0))


@pytest.mark.parametrize("flag", ["archived", "spam", "deleted"])
def test_an_inactive_site_is_read_only_for_operators_and_gone_for_everyone_else(client, rt, users, schools, site_flag, flag):
    from jobs.runner import run_now

    site_flag(flag)
    for user in (users.expert2, users.admin2):
        refused = client.get(f"/api/v1/sites/{SITE}/schools", user=user)
        assert (refused.status_code, refused.json["code"]) == (404, "site_not_found")
    assert client.get(f"/api/v1/sites/{SITE}/schools", user=0).status_code == 404
    assert client.get(f"/api/v1/sites/{SITE}/schools", user=users.operator).status_code == 200
    assert client.get(f"/api/v1/sites/{SITE}/log", user=users.operator).status_code == 200
    write = client.post(f"/api/v1/sites/{SITE}/schools", user=users.operator, json={
        "name": "Nieuw", "type": "BaO", "vestigingen": [{"instellingsnummer": 4799, "vestigingsnummer": 1}]})
    assert (write.status_code, write.json["code"]) == (409, "site_inactive")
    removal = client.delete(f"/api/v1/sites/{SITE}/schools/{schools[0]}", user=users.operator)
    assert removal.status_code == 409
    listed = {s["id"]: s["status"] for s in client.get("/api/v1/sites", user=users.operator).json["sites"]}
    assert listed[SITE] == flag and listed[3] == "live"
    assert client.get("/api/v1/sites", user=users.expert2).status_code == 403  # their only site is not live
    run = run_now(rt, "rollover", site_id=SITE, trigger="schedule")
    assert (run["status"], run["summary"]) == ("skipped", f"site {SITE} skipped: {flag}")


def test_one_network_only(client, rt, users):
    """Network 2 in the same tables: its sites and super admins are nobody here (LOP_NETWORK_ID = 1)."""
    core = rt.network.core
    with rt.engine.begin() as conn:
        conn.execute(core.site.insert().values(id=2, domain="ander.test", path="/"))
        conn.execute(core.blogs.insert().values(blog_id=9, site_id=2, domain="ander.test", path="/x/"))
        conn.execute(core.sitemeta.insert().values(site_id=2, meta_key="site_admins",
                                                   meta_value='a:1:{i:0;s:7:"expert3";}'))
    try:
        as_expert = client.get("/api/v1/sites", user=users.expert3).json["sites"]
        assert [(s["id"], s["role"]) for s in as_expert] == [(3, "lop_expert")]  # not an operator here
        assert 9 not in {s["id"] for s in client.get("/api/v1/sites", user=users.operator).json["sites"]}
        assert client.get("/api/v1/sites/9/schools", user=users.operator).status_code == 404
    finally:
        with rt.engine.begin() as conn:
            conn.execute(delete(core.blogs).where(core.blogs.c.blog_id == 9))
            conn.execute(delete(core.site).where(core.site.c.id == 2))


def test_the_tables_of_a_site_wordpress_deleted_are_archived_then_dropped(client, rt, users, schools, backend,
                                                                          tmp_path, monkeypatch, capsys):
    """Site 3 of a throwaway database: WordPress deletes it (its blogs row goes), the sidecar's tables stay
    until an operator purges them; the log is archived first."""
    import csv
    import gzip
    import io

    from service.cli import main
    from wp_bridge.site_admin import enable_site
    from wp_bridge.tables import site_tables

    # while WordPress has the site, nothing is purged
    refused = client.post("/api/v1/sites/3/purge", user=users.operator)
    assert (refused.status_code, refused.json["code"]) == (409, "site_exists")
    assert client.post("/api/v1/sites/3/purge", user=users.expert3).status_code == 403
    created = client.post("/api/v1/sites/3/schools", user=users.expert3, json={
        "name": "Atheneum Zoë", "type": "SO", "vestigingen": [{"instellingsnummer": 4901, "vestigingsnummer": 1}]})
    assert created.status_code == 201
    blogs = rt.network.core.blogs
    with rt.engine.begin() as conn:
        saved = conn.execute(select(blogs).where(blogs.c.blog_id == 3)).mappings().one()
        conn.execute(delete(blogs).where(blogs.c.blog_id == 3))
    try:
        monkeypatch.setenv("LOP_DATABASE_URL", rt.config.database_url)
        monkeypatch.setenv("LOP_ARCHIVE_DIR", str(tmp_path))
        assert main(["migrate"]) == 0
        assert "site 3: WordPress deleted this site but its LOP tables remain" in capsys.readouterr().out
        fresh_heartbeat(rt)  # a scheduler is running
        queued = client.post("/api/v1/sites/3/purge", user=users.operator)
        assert queued.status_code == 202 and queued.json["status"] == "queued"
        assert main(["sites", "purge", "3"]) == 0
        out = capsys.readouterr().out
        assert out.startswith("site 3 purged: 1 log rows archived to ") and out.rstrip().endswith("6 tables dropped")
        archive = next(tmp_path.glob("logbestand-site3-verwijderd-*.csv.gz"))
        rows = list(csv.reader(io.StringIO(gzip.decompress(archive.read_bytes()).decode("utf-8-sig")), delimiter=";"))
        assert len(rows) == 2 and "Atheneum Zoë" in rows[1]
        with rt.engine.connect() as conn:
            from sqlalchemy import inspect
            assert not [n for n in inspect(conn).get_table_names() if n.startswith("wp_3_lop_")]
        assert main(["sites", "purge", "3"]) == 1  # nothing left
    finally:
        with rt.engine.begin() as conn:
            conn.execute(blogs.insert().values(**saved))
        enable_site(rt.engine, rt.network, 3, rt.today())
        with rt.engine.begin() as conn:
            assert conn.execute(select(func.count()).select_from(site_tables("wp_3_").schools)).scalar() == 0


def test_deleting_a_school_takes_the_role_of_admins_left_without_a_school(client, rt, users, schools):
    import json

    assert add(client, users, schools[0], "admin2other@example.org").status_code == 201
    assert add(client, users, schools[0], "admin2@example.org").status_code == 201
    assert add(client, users, schools[1], "admin2@example.org").status_code == 201  # keeps a school
    deleted = client.delete(f"/api/v1/sites/{SITE}/schools/{schools[0]}", user=users.expert2)
    assert deleted.status_code == 204
    effects = json.loads(deleted.headers["X-LOP-WordPress"])
    assert effects["clean_user_cache"] == sorted([users.admin2, users.admin2_other])
    assert effects["actions"] == [{"name": "remove_user_from_blog", "user_id": users.admin2_other, "blog_id": SITE,
                                   "role": "schoolbeheerder"}]
    assert CAPS not in usermeta(rt, users.admin2_other)
    assert usermeta(rt, users.admin2)[CAPS] == 'a:1:{s:15:"schoolbeheerder";b:1;}'


def test_saving_settings_names_the_option_the_plugin_must_refresh(client, users):
    current = client.get(f"/api/v1/sites/{SITE}/settings", user=users.expert2).json
    body = {k: current[k] for k in ("free_registration_start", "rights", "automatic_rollover")}
    saved = client.request("PUT", f"/api/v1/sites/{SITE}/settings", user=users.expert2, json=body)
    assert saved.status_code == 200, saved.json
    assert saved.json["wordpress"] == {"clean_user_cache": [], "actions": [],
                                       "options": [{"blog_id": SITE, "name": "lop_sidecar_settings"}]}


def test_a_suffixed_login_that_exists_is_not_taken_again(client, rt, users, schools):
    with rt.engine.begin() as conn:
        taken = add_user(conn, rt.network, "directie-2", {})
    data = workbook_bytes([("4711", "De Linde", "directie@de-linde.be"), ("4712", "Het Kompas", "directie@kompas.be")])
    assert upload(client, users.expert2, data).status_code == 200
    users_table = rt.network.core.users
    with rt.engine.connect() as conn:
        logins = dict(conn.execute(select(users_table.c.user_email, users_table.c.user_login)
                                   .where(users_table.c.ID != taken, users_table.c.user_login.like("directie%"))).all())
    assert logins == {"directie@de-linde.be": "directie", "directie@kompas.be": "directie-3"}


def test_addresses_differing_only_in_case_make_one_account(client, rt, users, schools):
    data = workbook_bytes([("4711", "De Linde", "Jan.Peeters@school.example"), ("4712", "Het Kompas", "jan.peeters@school.example")])
    report = upload(client, users.expert2, data)
    assert report.status_code == 200 and report.json["users_created"] == 1 and report.json["linked"] == 2
    users_table = rt.network.core.users
    with rt.engine.connect() as conn:
        found = conn.execute(select(func.count()).select_from(users_table)
                             .where(func.lower(users_table.c.user_email) == "jan.peeters@school.example")).scalar()
    assert found == 1


def test_switching_goes_only_down_to_a_school_admin(client, users, schools):
    assert client.get(f"/api/v1/sites/{SITE}/schools", user=users.admin2, switched_from=users.expert2).status_code == 200
    for target in (users.operator, users.expert2):
        up = client.get(f"/api/v1/sites/{SITE}/schools", user=target, switched_from=users.expert2)
        assert (up.status_code, up.json["code"]) == (403, "switch_not_allowed")
    network = client.get("/api/v1/sites", user=users.operator, switched_from=users.expert2)
    assert (network.status_code, network.json["code"]) == (403, "switch_not_allowed")


def test_a_live_site_of_another_network_is_never_purged(client, rt, users):
    core = rt.network.core
    with rt.engine.begin() as conn:
        conn.execute(core.site.insert().values(id=2, domain="ander.test", path="/"))
        conn.execute(core.blogs.insert().values(blog_id=9, site_id=2, domain="ander.test", path="/x/"))
    try:
        refused = client.post("/api/v1/sites/9/purge", user=users.operator)
        assert (refused.status_code, refused.json["code"]) == (409, "site_exists")
    finally:
        with rt.engine.begin() as conn:
            conn.execute(delete(core.blogs).where(core.blogs.c.blog_id == 9))
            conn.execute(delete(core.site).where(core.site.c.id == 2))
