"""Settings, rights, offerings, AN and the public free-places table through the API (issue 3)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from rules.rights import PERIODS, RIGHTS_TYPES
from service.demo import catalogue_rows
from tests.conftest import add_user
from wp_bridge.db import utcnow
from wp_bridge.tables import network_tables, site_tables

UTC = dt.timezone.utc


@dataclass
class World:
    so_school: int
    other_so_school: int
    bao_school: int
    bubao_school: int
    so_admin: int  # schoolbeheerder on site 3, linked to so_school
    bao_admin: int  # = users.admin2, linked to bao_school
    current: str
    next: str
    offerings: dict  # (school, year, code) -> id


def rows_of(rt, table):
    with rt.engine.connect() as conn:
        return sorted(map(tuple, conn.execute(select(table)).all()), key=repr)


def snapshot(rt):
    result = {}
    for site in (2, 3):
        t = site_tables(rt.network.prefix(site))
        for table in (t.schools, t.vestigingen, t.school_admins, t.offerings, t.audit_log):
            result[table.name] = rows_of(rt, table)
    options = rt.network.prefix(3) + "options"
    from wp_bridge.tables import core_site_tables
    result[options] = rows_of(rt, core_site_tables(rt.network.prefix(3)).options)
    return result


@pytest.fixture
def world(rt, users, client) -> World:
    nt = network_tables("wp_")
    now = utcnow()
    with rt.engine.begin() as conn:
        conn.execute(nt.admgr.insert(), catalogue_rows(now))
        so_admin = add_user(conn, rt.network, "so_admin", {3: "schoolbeheerder"})
    with rt.engine.connect() as conn:
        current = rt.network.get_site(conn, 3).current_school_year
    start = int(current[:4])
    next_ = f"{start + 1}-{start + 2}"

    def school(site, name, type_, number, user):
        response = client.post(f"/api/v1/sites/{site}/schools", user=user, json={
            "name": name, "type": type_, "vestigingen": [{"instellingsnummer": number, "vestigingsnummer": 1}]})
        assert response.status_code == 201, response.json
        return response.json["id"]

    so = school(3, "Sint-Jan", "SO", 1001, users.operator)
    other = school(3, "Atheneum", "SO", 1002, users.operator)
    bao = school(2, "De Linde", "BaO", 2001, users.operator)
    bubao = school(2, "De Brug", "BuBaO", 2002, users.operator)
    offerings = {}
    with rt.engine.begin() as conn:
        for site, school_id, codes in ((3, so, [56201, 55001, 55101, 57302, 55104]), (3, other, [55001]),
                                       (2, bao, [1011, 1001]), (2, bubao, [1011])):
            t = site_tables(rt.network.prefix(site))
            for year in (current, next_):
                for code in codes:
                    offerings[(school_id, year, code)] = int(conn.execute(t.offerings.insert().values(
                        school_id=school_id, school_year=year, admgr_code=code, capacity=24, free_places=4,
                        enrolled=20, created_at=now, updated_at=now)).inserted_primary_key[0])
        conn.execute(site_tables("wp_3_").school_admins.insert().values(school_id=so, user_id=so_admin, created_at=now))
        conn.execute(site_tables("wp_2_").school_admins.insert().values(school_id=bao, user_id=users.admin2, created_at=now))
    return World(so, other, bao, bubao, so_admin, users.admin2, current, next_, offerings)


def settings_document(**starts) -> dict:
    """Settings with the given starts: keyword = type, with 1A/1B spelled _1A_1B."""
    return {
        "free_registration_start": {t: starts.get(t) or starts.get("_" + t.replace("/", "_")) for t in RIGHTS_TYPES},
        "rights": {t: {"current": ["edit_free_places"], "next_before": ["edit_capacity", "edit_free_places", "add_offering",
                                                                        "remove_offering"],
                       "next_after": ["edit_free_places", "edit_extra_info"]} for t in RIGHTS_TYPES},
    }


def put_settings(client, user, site=3, **starts):
    return client.request("PUT", f"/api/v1/sites/{site}/settings", user=user, json=settings_document(**starts))


# --- settings ----------------------------------------------------------------------------------


def test_settings_default_to_read_only(client, world, users):
    settings = client.get("/api/v1/sites/3/settings", user=users.expert3).json
    assert settings["free_registration_start"] == {t: None for t in RIGHTS_TYPES}
    assert settings["rights"] == {t: {p: [] for p in PERIODS} for t in RIGHTS_TYPES}
    assert settings["settings_review_required"] is False


def test_settings_round_trip_in_local_time_and_audit(client, world, users, rt):
    response = put_settings(client, users.expert3, SO="2027-03-01T09:00", _1A_1B=None)
    assert response.status_code == 200, response.json
    assert response.json["free_registration_start"]["SO"] == "2027-03-01T09:00"
    assert response.json["free_registration_start_utc"]["SO"] == "2027-03-01T08:00:00Z"
    log = rows_of(rt, site_tables("wp_3_").audit_log)
    fields = {row[12] for row in log if row[9] == "settings"}
    assert "free_registration_start.SO" in fields and "rights.SO.next_before" in fields
    assert put_settings(client, users.expert3, SO="2027-03-01T09:00").status_code == 200
    assert len(rows_of(rt, site_tables("wp_3_").audit_log)) == len(log)  # unchanged settings: no new rows


@pytest.mark.parametrize("mutate, field", [
    (lambda d: d["free_registration_start"].update({"SO": "morgen"}), "free_registration_start.SO"),
    (lambda d: d["rights"]["BaO"].update({"current": ["fly"]}), "rights.BaO.current"),
    (lambda d: d["rights"].pop("BuSO"), "rights.BuSO"),
    (lambda d: d["rights"].update({"KSO": {}}), "rights.KSO"),
])
def test_bad_settings_are_refused_and_nothing_stored(client, world, users, rt, mutate, field):
    before = snapshot(rt)
    document = settings_document()
    mutate(document)
    response = client.request("PUT", "/api/v1/sites/3/settings", user=users.expert3, json=document)
    assert response.status_code == 422
    assert field in {e["field"] for e in response.json["errors"]}
    assert snapshot(rt) == before


def test_school_admins_cannot_read_or_change_settings(client, world):
    assert client.get("/api/v1/sites/3/settings", user=world.so_admin).status_code == 403
    assert put_settings(client, world.so_admin).status_code == 403


# --- rights ------------------------------------------------------------------------------------


def test_rights_of_a_school_admin_before_and_after_the_start(client, world, users):
    put_settings(client, users.expert3, SO="2027-03-01T09:00", _1A_1B="2027-02-01T09:00")
    path = f"/api/v1/sites/3/rights?school={world.so_school}&year=next"
    before = client.get(path + "&at=2027-02-15T12:00:00Z", user=world.so_admin).json
    assert set(before["types"]) == {"SO", "1A/1B"}
    assert before["types"]["SO"] == {"period": "next_before", "changes_at": "2027-03-01T08:00:00Z",
                                     "permissions": ["edit_capacity", "edit_free_places", "add_offering", "remove_offering"]}
    assert before["types"]["1A/1B"]["period"] == "next_after"
    at_start = client.get(path + "&at=2027-03-01T08:00:00Z", user=world.so_admin).json
    assert at_start["types"]["SO"] == {"period": "next_after", "changes_at": None,
                                       "permissions": ["edit_free_places", "edit_extra_info"]}
    assert at_start["school_year"] == world.next and at_start["role"] == "school_admin"


def test_lop_expert_previews_a_school_admin(client, world, users):
    put_settings(client, users.expert3)
    path = f"/api/v1/sites/3/rights?school={world.so_school}&year=current&as_user={world.so_admin}"
    preview = client.get(path, user=users.expert3).json
    assert preview["user"]["id"] == world.so_admin
    assert preview["types"]["SO"]["permissions"] == ["edit_free_places"]
    own = client.get(f"/api/v1/sites/3/rights?school={world.so_school}", user=users.expert3).json
    assert len(own["types"]["SO"]["permissions"]) == 9
    as_expert = f"/api/v1/sites/3/rights?school={world.so_school}&as_user={users.expert3}"
    assert client.get(as_expert, user=world.so_admin).status_code == 403  # a school admin cannot preview others
    assert client.get(path, user=world.so_admin).status_code == 200  # …but may name themselves
    assert client.get(f"/api/v1/sites/3/rights?school={world.other_so_school}", user=world.so_admin).status_code == 403
    bad = client.get(f"/api/v1/sites/3/rights?school={world.so_school}&year=2001-2002", user=users.expert3)
    assert (bad.status_code, bad.json["errors"][0]["field"]) == (422, "year")


# --- offerings ---------------------------------------------------------------------------------


def test_offerings_in_so_order_with_editable_fields(client, world, users):
    put_settings(client, users.expert3)
    path = f"/api/v1/sites/3/schools/{world.so_school}/offerings?year=current"
    as_admin = client.get(path, user=world.so_admin).json
    assert [o["admgr_code"] for o in as_admin["offerings"]] == [55001, 55101, 56201, 55104, 57302]
    assert as_admin["offerings"][0]["type"] == "1A/1B" and as_admin["offerings"][1]["type"] == "SO"
    assert all(o["editable"] == ["free_places"] for o in as_admin["offerings"])
    as_expert = client.get(path, user=users.expert3).json
    assert as_expert["offerings"][0]["editable"] == ["capacity", "free_places", "enrolled", "indicator_pct", "suffix",
                                                     "extra_info", "dates"]
    assert client.get(f"/api/v1/sites/3/schools/{world.other_so_school}/offerings", user=world.so_admin).status_code == 403
    label = client.get(f"/api/v1/sites/3/schools/{world.so_school}/offerings?year={world.next}", user=world.so_admin).json
    assert label["year"] == "next"


def test_patch_allowed_fields_with_etag_and_audit(client, world, users, rt):
    put_settings(client, users.expert3)
    offering_id = world.offerings[(world.so_school, world.current, 56201)]
    path = f"/api/v1/sites/3/schools/{world.so_school}/offerings/{offering_id}"
    etag = client.get(path, user=world.so_admin).headers["ETag"]
    response = client.patch(path, user=world.so_admin, json={"free_places": 3}, headers={"If-Match": etag})
    assert response.status_code == 200, response.json
    assert response.json["free_places"] == 3 and response.json["version"] == 2
    assert response.headers["ETag"] != etag
    log = [r for r in rows_of(rt, site_tables("wp_3_").audit_log) if r[9] == "offering"]
    assert [(r[3], r[12], r[13], r[14]) for r in log] == [(world.so_admin, "free_places", "4", "3")]

    stale = client.patch(path, user=world.so_admin, json={"free_places": 2}, headers={"If-Match": etag})
    assert (stale.status_code, stale.json["code"]) == (412, "version_mismatch")
    assert client.get(path, user=world.so_admin).json["free_places"] == 3


def test_forbidden_and_invalid_patches_change_nothing(client, world, users, rt):
    put_settings(client, users.expert3)
    offering_id = world.offerings[(world.so_school, world.current, 56201)]
    path = f"/api/v1/sites/3/schools/{world.so_school}/offerings/{offering_id}"
    before = snapshot(rt)
    forbidden = client.patch(path, user=world.so_admin, json={"free_places": 1, "capacity": 99, "suffix": "x"})
    assert (forbidden.status_code, forbidden.json["code"]) == (403, "rights_forbidden_fields")
    assert {e["field"] for e in forbidden.json["errors"]} == {"capacity", "suffix"}
    for body, field in (({"capacity": -1}, "capacity"), ({"indicator_pct": 12.345}, "indicator_pct"),
                        ({"indicator_pct": 101}, "indicator_pct"), ({"dates": ["2027-02-30"]}, "dates"),
                        ({"suffix": "x" * 101}, "suffix"), ({"free_places": "3"}, "free_places"),
                        ({"colour": "red"}, "colour")):
        response = client.patch(path, user=users.expert3, json=body)
        assert response.status_code == 422, body
        assert response.json["errors"][0]["field"] == field
    not_linked = client.patch(f"/api/v1/sites/3/schools/{world.other_so_school}/offerings/"
                              f"{world.offerings[(world.other_so_school, world.current, 55001)]}",
                              user=world.so_admin, json={"free_places": 1})
    assert not_linked.status_code == 403
    wrong_school = client.patch(f"/api/v1/sites/3/schools/{world.other_so_school}/offerings/{offering_id}",
                                user=users.expert3, json={"free_places": 1})
    assert wrong_school.status_code == 404
    assert snapshot(rt) == before


def test_expert_patches_every_field(client, world, users):
    offering_id = world.offerings[(world.so_school, world.next, 55001)]
    path = f"/api/v1/sites/3/schools/{world.so_school}/offerings/{offering_id}"
    response = client.patch(path, user=users.expert3, json={
        "capacity": 56, "indicator_pct": 22.5, "suffix": " (campus Noord) ", "extra_info": "Infoavond",
        "dates": [{"date": "2027-03-01", "label": "Start inschrijvingen"}, "2027-04-01"], "enrolled": None})
    assert response.status_code == 200, response.json
    body = response.json
    assert (body["capacity"], body["indicator_pct"], body["suffix"], body["enrolled"]) == (56, 22.5, "(campus Noord)", None)
    assert body["dates"] == [{"date": "2027-03-01", "label": "Start inschrijvingen"}, {"date": "2027-04-01", "label": None}]


def test_add_and_remove_offerings_follow_the_rights(client, world, users, rt):
    put_settings(client, users.expert3, SO="2099-01-01T09:00", _1A_1B="2000-01-01T09:00")
    base = f"/api/v1/sites/3/schools/{world.so_school}/offerings"
    created = client.post(base, user=world.so_admin, json={"year": "next", "admgr_code": 56202, "capacity": 24})
    assert created.status_code == 201, created.json
    assert created.headers["ETag"] and created.json["name"] == "Elektromechanische technieken"
    # 1A/1B is already past its start: no add_offering there
    refused = client.post(base, user=world.so_admin, json={"year": "next", "admgr_code": 55002})
    assert (refused.status_code, refused.json["code"]) == (403, "rights_forbidden")
    assert client.post(base, user=world.so_admin, json={"year": "current", "admgr_code": 56202}).status_code == 403
    duplicate = client.post(base, user=users.expert3, json={"year": "next", "admgr_code": 56202})
    assert (duplicate.status_code, duplicate.json["code"]) == (409, "offering_exists")
    unknown = client.post(base, user=users.expert3, json={"year": "next", "admgr_code": 4242})
    assert (unknown.status_code, unknown.json["errors"][0]["field"]) == (422, "admgr_code")
    an = client.post(base, user=users.expert3, json={"year": "next", "admgr_code": 10000})
    assert an.status_code == 422

    removed = client.delete(f"{base}/{created.json['id']}", user=world.so_admin)
    assert removed.status_code == 204
    first_year = world.offerings[(world.so_school, world.next, 55001)]
    assert client.delete(f"{base}/{first_year}", user=world.so_admin).status_code == 403
    log = [r for r in rows_of(rt, site_tables("wp_3_").audit_log) if r[9] == "offering"]
    assert [r[11] for r in log] == ["create", "delete"]


def test_switched_writes_use_the_school_admins_rights_and_log_both(client, world, users, rt):
    put_settings(client, users.expert3)
    offering_id = world.offerings[(world.so_school, world.current, 56201)]
    path = f"/api/v1/sites/3/schools/{world.so_school}/offerings/{offering_id}"
    refused = client.patch(path, user=world.so_admin, switched_from=users.expert3, json={"capacity": 1})
    assert refused.status_code == 403  # the school admin's rights, not the expert's
    ok = client.patch(path, user=world.so_admin, switched_from=users.expert3, json={"free_places": 1})
    assert ok.status_code == 200
    row = [r for r in rows_of(rt, site_tables("wp_3_").audit_log) if r[9] == "offering"][-1]
    assert (row[3], row[6]) == (world.so_admin, users.expert3)


# --- AN ----------------------------------------------------------------------------------------


def test_an_for_all_bao_schools_is_idempotent(client, world, users, rt):
    response = client.post("/api/v1/sites/2/an", user=users.expert2, json={"schools": "all", "years": ["current", "next"]})
    assert response.status_code == 200, response.json
    assert response.json["schools"] == [{"school_id": world.bao_school, "name": "De Linde", "added": 2, "already_present": 0}]
    again = client.post("/api/v1/sites/2/an", user=users.expert2, json={"schools": [world.bao_school], "years": ["next"]})
    assert (again.json["added"], again.json["already_present"]) == (0, 1)
    offerings = client.get(f"/api/v1/sites/2/schools/{world.bao_school}/offerings", user=users.expert2).json["offerings"]
    assert [o["admgr_code"] for o in offerings] == [1001, 1011, 10000]
    assert offerings[-1]["name"] == "Anderstalige nieuwkomers"


def test_an_refuses_non_bao_schools_and_writes_nothing(client, world, users, rt):
    before = snapshot(rt)
    response = client.post("/api/v1/sites/2/an", user=users.expert2,
                           json={"schools": [world.bao_school, world.bubao_school], "years": ["current"]})
    assert response.status_code == 422
    assert str(world.bubao_school) in response.json["errors"][0]["message"]
    for body in ({"schools": [], "years": ["current"]}, {"schools": "all", "years": ["later"]}, {"schools": [999]}):
        assert client.post("/api/v1/sites/2/an", user=users.expert2, json=body).status_code == 422
    assert client.post("/api/v1/sites/2/an", user=users.admin2, json={"schools": "all", "years": ["next"]}).status_code == 403
    assert snapshot(rt) == before


# --- the public free-places table --------------------------------------------------------------


def test_free_places_table_with_etag_and_304(client, world, users):
    client.post("/api/v1/sites/2/an", user=users.expert2, json={"schools": "all", "years": ["current"]})
    response = client.get("/api/v1/sites/2/free-places?year=current", user=0)
    assert response.status_code == 200
    table = response.json
    assert [s["name"] for s in table["schools"]] == ["De Brug", "De Linde"]
    linde = table["schools"][1]
    assert [c["admgr_code"] for c in linde["columns"]] == [1001, 1011]
    assert linde["an"] == {"capacity": None, "free_places": None}
    assert table["schools"][0]["an"] is None
    assert "enrolled" not in linde["columns"][0]
    assert table["programmes"]["1011"] == {"name": "Lager onderwijs - 1ste leerjaar", "onderwijsvorm": None,
                                           "graad": None, "leerjaar": 1, "stage": "lager"}
    assert set(table["programmes"]) == {"1001", "1011"}  # AN is its own column, not a programme
    etag = response.headers["ETag"]
    assert "max-age" in response.headers["Cache-Control"]

    revalidated = client.get("/api/v1/sites/2/free-places?year=current", user=0, headers={"If-None-Match": etag})
    assert revalidated.status_code == 304 and revalidated.headers["ETag"] == etag

    offering_id = world.offerings[(world.bao_school, world.current, 1011)]
    client.patch(f"/api/v1/sites/2/schools/{world.bao_school}/offerings/{offering_id}", user=users.expert2,
                 json={"free_places": 0})
    changed = client.get("/api/v1/sites/2/free-places?year=current", user=0, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert changed.json["schools"][1]["columns"][1]["free_places"] == 0


def test_free_places_type_filter(client, world):
    first_years = client.get("/api/v1/sites/3/free-places?type=1A/1B", user=0).json["schools"]
    assert [(s["name"], [c["admgr_code"] for c in s["columns"]]) for s in first_years] == [
        ("Atheneum", [55001]), ("Sint-Jan", [55001])]
    assert client.get("/api/v1/sites/3/free-places?type=Kleuter", user=0).status_code == 422
    assert client.get("/api/v1/sites/2/free-places?type=BuBaO", user=0).json["schools"][0]["name"] == "De Brug"


def test_users_without_a_role_cannot_read_the_table(client, world, users):
    assert client.get("/api/v1/sites/2/free-places", user=users.nobody).status_code == 403


def test_offerings_list_names_etag_and_when_the_rights_change(client, world, users):
    put_settings(client, users.expert3, SO="2099-03-01T09:00", _1A_1B="2000-01-01T09:00")
    base = f"/api/v1/sites/3/schools/{world.so_school}/offerings"
    listed = client.get(base + "?year=next", user=world.so_admin).json
    by_code = {o["admgr_code"]: o for o in listed["offerings"]}
    so, first_year = by_code[56201], by_code[55001]
    # before the SO start: next_before, changing to next_after at the start
    assert so["editable"] == ["capacity", "free_places"] and so["removable"] is True
    assert so["changes_at"] == "2099-03-01T08:00:00Z" and so["editable_after"] == ["free_places", "extra_info"]
    # 1A/1B is past its start: nothing changes by itself any more
    assert first_year["editable"] == ["free_places", "extra_info"] and first_year["removable"] is False
    assert first_year["changes_at"] is None and first_year["editable_after"] is None
    assert listed["rights"]["SO"] == {"period": "next_before", "changes_at": "2099-03-01T08:00:00Z",
                                      "permissions": ["edit_capacity", "edit_free_places", "add_offering", "remove_offering"]}
    assert listed["rights"]["1A/1B"]["period"] == "next_after"
    # the row's etag is the single offering's ETag, and works as If-Match
    single = client.get(f"{base}/{so['id']}", user=world.so_admin)
    assert single.headers["ETag"] == so["etag"] == single.json["etag"]
    saved = client.patch(f"{base}/{so['id']}", user=world.so_admin, json={"free_places": 2}, headers={"If-Match": so["etag"]})
    assert saved.status_code == 200 and saved.json["etag"] == saved.headers["ETag"] != so["etag"]
    # the current year has one set of rights: no change by itself; managers never have one either
    current = client.get(base + "?year=current", user=world.so_admin).json["offerings"][0]
    assert (current["changes_at"], current["editable_after"]) == (None, None)
    expert = client.get(base + "?year=next", user=users.expert3).json["offerings"][0]
    assert expert["changes_at"] is None and expert["removable"] is True and len(expert["editable"]) == 7
