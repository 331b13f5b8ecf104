"""Schools CRUD through the API: permissions per role, validation, audit rows, nothing half-written."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from service import create_app
from tests.conftest import SignedClient, add_user, count_rows
from wp_bridge.db import utcnow
from wp_bridge.tables import site_tables

BASE = "/api/v1/sites/2/schools"
NEW_SCHOOL = {"name": "Basisschool De Linde", "type": "BaO",
              "vestigingen": [{"instellingsnummer": 12345, "vestigingsnummer": 1}]}


def t2(rt):
    return site_tables(rt.network.prefix(2))


def create(client, user, body=None, site=2):
    return client.post(f"/api/v1/sites/{site}/schools", user=user, json=NEW_SCHOOL if body is None else body)


def link(rt, school_id, user_id):
    with rt.engine.begin() as conn:
        conn.execute(t2(rt).school_admins.insert().values(school_id=school_id, user_id=user_id, created_at=utcnow()))


def audit_rows(rt, site=2):
    t = site_tables(rt.network.prefix(site))
    with rt.engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(t.audit_log).order_by(t.audit_log.c.id)).mappings()]


def data_snapshot(rt):
    t = t2(rt)
    with rt.engine.connect() as conn:
        return {table.name: sorted(map(tuple, conn.execute(select(table)).all()), key=repr)
                for table in (t.schools, t.vestigingen, t.school_admins, t.offerings, t.audit_log)}


@pytest.mark.parametrize("who", ["operator", "expert2"])
def test_managers_create_read_update_delete(client, users, rt, who):
    user = getattr(users, who)
    created = create(client, user)
    assert created.status_code == 201, created.json
    school = created.json
    assert school["name"] == "Basisschool De Linde"
    assert school["vestigingen"] == [{"instellingsnummer": 12345, "vestigingsnummer": 1, "instellingsnummer_text": "012345"}]

    listed = client.get(BASE, user=user).json["schools"]
    assert [s["id"] for s in listed] == [school["id"]]
    assert client.get(f"{BASE}/{school['id']}", user=user).json == school

    patched = client.patch(f"{BASE}/{school['id']}", user=user, json={
        "name": "Basisschool De Linde (campus Zuid)",
        "vestigingen": [{"instellingsnummer": 12345, "vestigingsnummer": 1}, {"instellingsnummer": 12345, "vestigingsnummer": 2}],
    })
    assert patched.status_code == 200, patched.json
    assert patched.json["name"] == "Basisschool De Linde (campus Zuid)"
    assert [v["vestigingsnummer"] for v in patched.json["vestigingen"]] == [1, 2]
    assert patched.json["type"] == "BaO"

    assert client.delete(f"{BASE}/{school['id']}", user=user).status_code == 204
    assert client.get(f"{BASE}/{school['id']}", user=user).status_code == 404

    rows = audit_rows(rt)
    assert [(r["entity"], r["action"], r["field"]) for r in rows] == [
        ("school", "create", None), ("school", "update", "name"), ("school", "update", "vestigingen"),
        ("school", "delete", None),
    ]
    assert all(r["user_id"] == user and r["source"] == "api" and r["school_id"] == school["id"] for r in rows)
    assert rows[0]["user_role"] == ("operator" if who == "operator" else "lop_expert")
    assert rows[0]["user_login"] == who
    assert json.loads(rows[0]["new_value"])["vestigingen"] == [[12345, 1]]
    assert (rows[1]["old_value"], rows[1]["new_value"]) == ("Basisschool De Linde", "Basisschool De Linde (campus Zuid)")
    assert all(r["request_id"] for r in rows)


def test_school_admin_reads_only_linked_schools_and_never_writes(client, users, rt):
    first = create(client, users.expert2).json
    second = create(client, users.expert2, {**NEW_SCHOOL, "name": "Andere school",
                                             "vestigingen": [{"instellingsnummer": 999, "vestigingsnummer": 1}]}).json
    link(rt, first["id"], users.admin2)
    before = data_snapshot(rt)

    assert [s["id"] for s in client.get(BASE, user=users.admin2).json["schools"]] == [first["id"]]
    assert client.get(f"{BASE}/{first['id']}", user=users.admin2).status_code == 200
    assert client.get(f"{BASE}/{second['id']}", user=users.admin2).status_code == 403
    assert client.get(BASE, user=users.admin2_other).json["schools"] == []
    for response in (
        create(client, users.admin2),
        client.patch(f"{BASE}/{first['id']}", user=users.admin2, json={"name": "Mijn school"}),
        client.delete(f"{BASE}/{first['id']}", user=users.admin2),
    ):
        assert (response.status_code, response.json["code"]) == (403, "forbidden")
    assert data_snapshot(rt) == before


@pytest.mark.parametrize("who", ["nobody", "expert3", "site itself", "unknown user"])
def test_users_without_a_role_on_the_site_get_403(client, users, rt, who):
    school = create(client, users.expert2).json
    before = data_snapshot(rt)
    user = {"nobody": users.nobody, "expert3": users.expert3, "site itself": 0, "unknown user": 999999}[who]
    responses = [
        client.get(BASE, user=user),
        client.get(f"{BASE}/{school['id']}", user=user),
        create(client, user, {"name": ""}),  # 403 before the body is even looked at
        client.patch(f"{BASE}/{school['id']}", user=user, json={"name": "x"}),
        client.delete(f"{BASE}/{school['id']}", user=user),
    ]
    assert {r.status_code for r in responses} == {403}
    assert data_snapshot(rt) == before


def test_lop_expert_of_another_site_is_expert_there(client, users):
    assert create(client, users.expert3, {**NEW_SCHOOL, "type": "SO"}, site=3).status_code == 201
    assert create(client, users.expert2, site=3).status_code == 403


def test_sites_listing_per_role(client, users):
    assert [s["id"] for s in client.get("/api/v1/sites", user=users.operator).json["sites"]] == [2, 3]
    expert = client.get("/api/v1/sites", user=users.expert2).json["sites"]
    assert [(s["id"], s["role"]) for s in expert] == [(2, "lop_expert")]
    assert expert[0]["url"] == "http://lop.test/bao"
    assert expert[0]["name"] == "LOP Test BaO"
    assert expert[0]["current_school_year"]
    assert [s["role"] for s in client.get("/api/v1/sites", user=users.admin2).json["sites"]] == ["school_admin"]
    for user in (users.nobody, 0, 424242):
        assert client.get("/api/v1/sites", user=user).status_code == 403


def test_multibyte_and_malformed_capabilities_from_the_database(rt, users):
    from dataclasses import replace

    from rules.roles import RoleSlugs
    from service.runtime import Runtime

    with rt.engine.begin() as conn:
        accented = add_user(conn, rt.network, "accent", {2: 'a:1:{s:18:"schoolbeheerder_é";b:1;}'})
        broken = add_user(conn, rt.network, "broken", {2: 'a:1:{s:15:"administrator";b:1;}'})
    custom = Runtime(replace(rt.config, role_slugs=RoleSlugs(school_admin="schoolbeheerder_é")), rt.engine, rt.network)
    client = SignedClient(create_app(runtime=custom).test_client())
    assert client.get(BASE, user=accented).status_code == 200
    assert client.get(BASE, user=broken).status_code == 403


@pytest.mark.parametrize("body, fields", [
    ({}, {"name", "type", "vestigingen"}),
    ({**NEW_SCHOOL, "name": "   "}, {"name"}),
    ({**NEW_SCHOOL, "name": "x" * 201}, {"name"}),
    ({**NEW_SCHOOL, "type": "Kleuter"}, {"type"}),
    ({**NEW_SCHOOL, "vestigingen": []}, {"vestigingen"}),
    ({**NEW_SCHOOL, "vestigingen": [{"instellingsnummer": "12345", "vestigingsnummer": 1}]}, {"vestigingen[0].instellingsnummer"}),
    ({**NEW_SCHOOL, "vestigingen": [{"instellingsnummer": 1234567, "vestigingsnummer": 1}]}, {"vestigingen[0].instellingsnummer"}),
    ({**NEW_SCHOOL, "vestigingen": [{"instellingsnummer": 1, "vestigingsnummer": 1}] * 2}, {"vestigingen"}),
    ({**NEW_SCHOOL, "colour": "red"}, {"colour"}),
])
def test_invalid_bodies_name_each_field_and_write_nothing(client, users, rt, body, fields):
    before = data_snapshot(rt)
    response = create(client, users.expert2, body)
    assert response.status_code == 422
    assert response.json["code"] == "validation_failed"
    assert {e["field"] for e in response.json["errors"]} == fields
    assert data_snapshot(rt) == before


def test_malformed_json_is_refused(client, users, rt):
    response = client.post(BASE, user=users.expert2, data=b'{"name": ', headers={"Content-Type": "application/json"})
    assert response.status_code in (400, 422)
    assert response.content_type == "application/problem+json"
    assert count_rows(rt, t2(rt).schools) == 0


def test_unknown_site_and_school_give_404(client, users):
    assert client.get("/api/v1/sites/99/schools", user=users.operator).json["code"] == "site_not_found"
    assert client.get("/api/v1/sites/1/schools", user=users.operator).status_code == 404  # the portal is no LOP site
    response = client.get(f"{BASE}/4242", user=users.operator)
    assert (response.status_code, response.json["code"]) == (404, "school_not_found")
    assert client.patch(f"{BASE}/4242", user=users.operator, json={"name": "x"}).status_code == 404
    assert client.delete(f"{BASE}/4242", user=users.operator).status_code == 404


def test_a_vestiging_belongs_to_one_school(client, users, rt):
    first = create(client, users.expert2).json
    response = create(client, users.expert2, {**NEW_SCHOOL, "name": "Tweede school"})
    assert (response.status_code, response.json["code"]) == (409, "vestiging_taken")
    assert str(first["id"]) in response.json["detail"] and "012345-1" in response.json["detail"]
    assert count_rows(rt, t2(rt).schools) == 1
    # keeping its own vestiging while adding one is fine
    ok = client.patch(f"{BASE}/{first['id']}", user=users.expert2, json={
        "vestigingen": [{"instellingsnummer": 12345, "vestigingsnummer": 1}, {"instellingsnummer": 12345, "vestigingsnummer": 3}]})
    assert ok.status_code == 200


def test_patch_without_changes_writes_no_log(client, users, rt):
    school = create(client, users.expert2).json
    response = client.patch(f"{BASE}/{school['id']}", user=users.expert2, json={"name": school["name"], "type": "BaO"})
    assert response.status_code == 200
    assert len(audit_rows(rt)) == 1


def test_deleting_a_school_with_offerings_needs_force_and_keeps_the_numbers_in_the_log(client, users, rt):
    school = create(client, users.expert2).json
    link(rt, school["id"], users.admin2)
    now = utcnow()
    with rt.engine.begin() as conn:
        conn.execute(t2(rt).offerings.insert().values(
            school_id=school["id"], school_year="2026-2027", admgr_code=1011, capacity=24, free_places=3,
            enrolled=21, created_at=now, updated_at=now))
    before = data_snapshot(rt)
    refused = client.delete(f"{BASE}/{school['id']}", user=users.expert2)
    assert (refused.status_code, refused.json["code"]) == (409, "school_has_offerings")
    assert data_snapshot(rt) == before

    assert client.delete(f"{BASE}/{school['id']}?force=true", user=users.expert2).status_code == 204
    t = t2(rt)
    assert count_rows(rt, t.offerings) == count_rows(rt, t.school_admins) == count_rows(rt, t.vestigingen) == 0
    offering_row, school_row = audit_rows(rt)[-2:]
    assert (offering_row["entity"], offering_row["action"]) == ("offering", "delete")
    assert json.loads(offering_row["old_value"])["free_places"] == 3
    assert json.loads(school_row["old_value"])["admins_unlinked"] == 1


def test_a_failure_inside_the_transaction_leaves_nothing_behind(client, users, rt, monkeypatch):
    import wp_bridge.schools as schools_module

    def failing_audit(*_args, **_kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(schools_module, "write_audit", failing_audit)
    before = data_snapshot(rt)
    response = create(client, users.expert2)
    assert (response.status_code, response.json["code"]) == (500, "internal_error")
    assert "disk full" not in response.get_data(as_text=True)
    assert data_snapshot(rt) == before


def test_switch_account_needs_a_manager_as_the_original_user(client, users, rt):
    school = create(client, users.expert2).json
    link(rt, school["id"], users.admin2)
    as_admin = client.get(BASE, user=users.admin2, switched_from=users.expert2)
    assert [s["id"] for s in as_admin.json["schools"]] == [school["id"]]  # the school admin's view
    for original in (users.admin2_other, users.expert3, 999999):  # a school admin, another site's expert, nobody
        refused = client.get(BASE, user=users.admin2, switched_from=original)
        assert (refused.status_code, refused.json["code"]) == (403, "switch_not_allowed")
    operator_switched = client.get(BASE, user=users.admin2, switched_from=users.operator)
    assert operator_switched.status_code == 200


def test_a_switch_up_to_a_lop_expert_is_refused_and_writes_nothing(client, users, rt):
    """Switching goes only to a school admin (domain: "never up to an operator or another expert"); switched
    writes of a school admin log both users (test_offerings)."""
    school = create(client, users.expert2).json
    before = audit_rows(rt)
    response = client.patch(f"{BASE}/{school['id']}", user=users.expert2, switched_from=users.operator,
                            json={"name": "Nieuwe naam"})
    assert (response.status_code, response.json["code"]) == (403, "switch_not_allowed")
    assert audit_rows(rt) == before
    assert client.get(f"{BASE}/{school['id']}", user=users.expert2).json["name"] == school["name"]
