"""Issue 14, points 1 and 6: primary schools list nursery before primary everywhere (API, public table,
exports), the catalogue's stage and AN, and the checks of adding a programme."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import select, update

from service.cli import main
from tests import test_offerings
from tests.conftest import SignedClient, make_config
from tests.test_agodi import make_file, sync
from tests.test_offerings import put_settings, rows_of, snapshot
from wp_bridge.db import make_engine, utcnow
from wp_bridge.sites import Network
from wp_bridge.tables import network_tables, site_tables


@pytest.fixture
def world(rt, users, client):
    """tests/test_offerings.py's world: SO, BaO and BuBaO schools with the demo catalogue."""
    return test_offerings.world.__wrapped__(rt, users, client)


NURSERY_THEN_PRIMARY = [1001, 1002, 1003, 1004, 1011, 1012, 1013, 1014, 1015, 1016]


def add_offerings(rt, site, school, year, codes):
    now = utcnow()
    with rt.engine.begin() as conn:
        conn.execute(site_tables(rt.network.prefix(site)).offerings.insert(), [
            {"school_id": school, "school_year": year, "admgr_code": code, "capacity": 20, "free_places": code % 7,
             "version": 1, "created_at": now, "updated_at": now} for code in codes])


def remove_offerings(rt, site, school):
    with rt.engine.begin() as conn:
        t = site_tables(rt.network.prefix(site)).offerings
        conn.execute(t.delete().where(t.c.school_id == school))


# --- 1. nursery before primary, everywhere -------------------------------------------------------


@pytest.mark.parametrize("which", ["bao_school", "bubao_school"])
def test_primary_offerings_nursery_first_in_the_api_the_table_and_the_exports(client, rt, world, users, which):
    school = getattr(world, which)
    remove_offerings(rt, 2, school)
    # stored in leerjaar order, which mixes the stages: instapklas, 1ste kleuterklas, 1ste leerjaar, 2de kleuterklas…
    add_offerings(rt, 2, school, world.current, [1016, 1003, 1012, 10000, 1011, 1002, 1015, 1001, 1004, 1014, 1013])
    expected = NURSERY_THEN_PRIMARY + ([10000] if which == "bao_school" else [])
    if which == "bubao_school":
        with rt.engine.begin() as conn:
            t = site_tables("wp_2_").offerings
            conn.execute(t.delete().where(t.c.school_id == school, t.c.admgr_code == 10000))

    listed = client.get(f"/api/v1/sites/2/schools/{school}/offerings?year=current", user=users.expert2).json["offerings"]
    assert [o["admgr_code"] for o in listed] == expected
    assert [o["stage"] for o in listed[:5]] == ["kleuter"] * 4 + ["lager"]

    table = client.get("/api/v1/sites/2/free-places?year=current", user=0).json
    columns = next(s for s in table["schools"] if s["id"] == school)["columns"]
    assert [c["admgr_code"] for c in columns] == NURSERY_THEN_PRIMARY  # AN is its own column
    assert table["programmes"]["1002"]["stage"] == "kleuter"

    xlsx = client.get("/api/v1/sites/2/exports/free-places?year=current&format=xlsx", user=users.expert2)
    sheet = load_workbook(io.BytesIO(xlsx.get_data()))["Vrije plaatsen"]
    rows = [r for r in sheet.iter_rows(values_only=True)]
    header = next(i for i, r in enumerate(rows) if r[0] == "School")  # below the title rows
    assert rows[header][4:6] == ("Administratieve groep", "Opleiding")
    mine = [r for r in rows[header + 1:] if r[0] == ("De Linde" if which == "bao_school" else "De Brug")]
    assert [r[4] for r in mine] == expected
    assert [r[5] for r in mine[3:5]] == ["Kleuteronderwijs - 3de kleuterklas", "Lager onderwijs - 1ste leerjaar"]

    offerings_csv = client.get("/api/v1/sites/2/exports/offerings?year=current&format=csv", user=users.expert2)
    lines = list(csv.reader(io.StringIO(offerings_csv.get_data().decode("utf-8-sig"), newline=""), delimiter=";"))
    assert [int(r[6]) for r in lines[1:] if int(r[0]) == school] == expected


def test_the_snapshot_export_sorts_nursery_first_too(client, rt, world, users):
    from jobs.runner import run_now

    remove_offerings(rt, 2, world.bao_school)
    remove_offerings(rt, 2, world.bubao_school)
    add_offerings(rt, 2, world.bao_school, world.current, [1011, 1003, 1001, 1012, 1002])
    assert run_now(rt, "free-places-snapshot", site_id=2, trigger="cli")["status"] == "succeeded"
    day = client.get("/api/v1/sites/2/exports/snapshots", user=users.expert2).json["snapshots"][0]["date"]
    response = client.get(f"/api/v1/sites/2/exports/free-places?snapshot={day}&format=csv", user=users.expert2)
    rows = list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"), newline=""), delimiter=";"))
    assert rows[0][4] == "Administratieve groep"
    assert [r[4] for r in rows[1:]] == ["1001", "1002", "1003", "1011", "1012"]


def test_the_demo_network_nursery_first_and_a_searchable_catalogue(tmp_path, capsys):
    """The demo as people meet it: its BaO schools list nursery first, its catalogue is searchable."""
    db = tmp_path / "demo.sqlite"
    assert main(["demo", "--db", str(db), "--no-serve"]) == 0
    capsys.readouterr()
    from service import create_app
    from service.runtime import Runtime

    config = make_config(f"sqlite:///{db}")
    runtime = Runtime(config, make_engine(config.database_url), Network("wp_"))
    client = SignedClient(create_app(runtime=runtime).test_client())
    try:
        school = client.get("/api/v1/sites/2/schools", user=1).json["schools"][0]
        listed = client.get(f"/api/v1/sites/2/schools/{school['id']}/offerings", user=1).json["offerings"]
        assert [o["admgr_code"] for o in listed] == NURSERY_THEN_PRIMARY
        klas = client.get("/api/v1/catalogue/admgr?q=klas", user=1).json["items"]
        assert sorted(i["code"] for i in klas) == [1001, 1002, 1003, 1004]  # instapklas, kleuterklassen
        assert {i["stage"] for i in klas} == {"kleuter"}
        an = client.get("/api/v1/catalogue/admgr?q=AN", user=1).json["items"]
        assert an[0]["code"] == 10000 and an[0]["stage"] is None
        latijn = client.get("/api/v1/catalogue/admgr/55101", user=1).json
        assert latijn["stage"] == "secundair"
    finally:
        runtime.engine.dispose()


# --- 6. the catalogue and AN ---------------------------------------------------------------------

AG_HEADER = ["Code", "Omschrijving", "Onderwijsniveau"]
AG_ROWS = [
    ["1001", "Instapklas", "Gewoon kleuteronderwijs"],
    ["1011", "1ste leerjaar", "Gewoon lager onderwijs"],
    ["55101", "Latijn", "Secundair onderwijs"],
    ["56201", "Natuurwetenschappen", "Secundair onderwijs"],
]


def catalogue(rt):
    a = rt.network_tables.admgr
    with rt.engine.connect() as conn:
        return {row.code: row for row in conn.execute(select(a))}


def test_the_agodi_sync_fills_the_stage_and_keeps_an(client, rt, users, tmp_path):
    first = sync(rt, tmp_path, make_file(header=AG_HEADER, rows=AG_ROWS))
    assert first["summary"] == "4 in file: 4 added, 0 updated, 0 unchanged, 0 no longer in file"
    assert first["stats"]["an"] == "added"  # the LOPs' own code, absent from the file, is put in the catalogue
    stored = catalogue(rt)
    assert {code: row.stage for code, row in stored.items()} == {
        1001: "kleuter", 1011: "lager", 55101: "secundair", 56201: "secundair", 10000: None}
    assert stored[10000].active and stored[10000].description == "Anderstalige nieuwkomers"

    # a file without a level column: a nursery description still says kleuter; the rest keeps its stage
    bare = sync(rt, tmp_path, make_file(header=["Code", "Omschrijving"],
                                        rows=[["1001", "Kleuteronderwijs - instapklas"], ["1011", "1ste leerjaar"],
                                              ["55101", "Latijn"], ["56201", "Natuurwetenschappen"],
                                              ["1002", "Kleuteronderwijs - 1ste kleuterklas"], ["77001", "Iets nieuws"]]))
    assert bare["status"] == "succeeded", bare["error"]
    assert bare["stats"]["an"] is None
    stored = catalogue(rt)
    assert (stored[1002].stage, stored[77001].stage, stored[1011].stage, stored[55101].stage) == (
        "kleuter", None, "lager", "secundair")

    # AN is never deactivated, and comes back when an earlier version deactivated it
    with rt.engine.begin() as conn:
        a = rt.network_tables.admgr
        conn.execute(update(a).where(a.c.code == 10000).values(active=False, inactive_since=dt.date(2025, 6, 1)))
    again = sync(rt, tmp_path, make_file(header=AG_HEADER, rows=AG_ROWS), force=True)
    assert again["summary"] == "4 in file: 0 added, 1 updated, 3 unchanged, 2 no longer in file"  # 1001 renamed back
    assert again["stats"]["an"] == "reactivated"
    stored = catalogue(rt)
    assert stored[10000].active and stored[10000].inactive_since is None
    assert not stored[77001].active

    for q in ("anderstalige", "nieuwkomers", "AN", "an", "Anderstalige%20nieuwkomers"):
        items = client.get(f"/api/v1/catalogue/admgr?q={q}", user=users.admin2).json["items"]
        assert items and items[0]["code"] == 10000, q


def test_a_structure_column_that_names_the_stage(rt, users, tmp_path):
    rows = [["2001", "Eerste jaar", "Kleuteronderwijs"], ["2011", "Eerste jaar", "Lager onderwijs"]]
    assert sync(rt, tmp_path, make_file(header=["Code", "Omschrijving", "Structuuronderdeel"], rows=rows))["status"] == "succeeded"
    stored = catalogue(rt)
    assert (stored[2001].stage, stored[2011].stage) == ("kleuter", "lager")


@pytest.fixture
def extra_codes(rt, world):
    """An inactive secondary code and a code without a stage, beside the demo catalogue."""
    now = utcnow()
    with rt.engine.begin() as conn:
        admgr = network_tables("wp_").admgr
        conn.execute(admgr.insert().values(
            code=56299, description="Oude richting", onderwijsniveau="SO", onderwijsvorm="TSO", graad=2, leerjaar=3,
            stage="secundair", active=False, inactive_since=dt.date(2026, 6, 30), updated_at=now))
        conn.execute(admgr.insert().values(code=99001, description="Onthaaljaar", stage=None, active=True, updated_at=now))


def post(client, site, school, user, code, **values):
    return client.post(f"/api/v1/sites/{site}/schools/{school}/offerings", user=user,
                       json={"year": "next", "admgr_code": code, **values})


def test_adding_a_programme_checks_activity_and_level(client, rt, world, users, extra_codes):
    before = snapshot(rt)
    inactive = post(client, 3, world.so_school, users.expert3, 56299)
    assert (inactive.status_code, inactive.json["code"]) == (422, "admgr_inactive")
    assert inactive.json["detail"] == ("Administratieve groep 56299 (Oude richting) is sinds 30/06/2026 niet meer actief "
                                       "en kan niet meer worden toegevoegd.")
    assert inactive.json["errors"] == [{"field": "admgr_code", "message": "niet meer actief sinds 30/06/2026"}]
    for site, school, code, stage in ((2, world.bao_school, 55101, "secundair onderwijs"),
                                      (2, world.bubao_school, 56201, "secundair onderwijs"),
                                      (3, world.so_school, 1002, "kleuteronderwijs"), (3, world.so_school, 1012, "lager onderwijs")):
        wrong = post(client, site, school, users.operator, code)
        assert (wrong.status_code, wrong.json["code"]) == (422, "admgr_wrong_level"), (school, code)
        assert f"hoort bij het {stage} en past niet bij een " in wrong.json["detail"]
        assert wrong.json["errors"][0]["field"] == "admgr_code"
    assert wrong.json["detail"] == ("Administratieve groep 1012 (Lager onderwijs - 2de leerjaar) hoort bij het lager "
                                    "onderwijs en past niet bij een SO-school.")
    unknown = post(client, 3, world.so_school, users.expert3, 4242)
    assert (unknown.status_code, unknown.json["detail"]) == (422, "Administratieve groep 4242 staat niet in de catalogus.")
    assert snapshot(rt) == before  # nothing written, nothing logged

    for site, school, user in ((2, world.bao_school, users.expert2), (3, world.so_school, users.expert3)):
        stageless = post(client, site, school, user, 99001, capacity=12)
        assert stageless.status_code == 201, stageless.json
        assert (stageless.json["name"], stageless.json["stage"], stageless.json["capacity"]) == ("Onthaaljaar", None, 12)


def test_an_is_added_by_lop_experts_and_operators_only(client, rt, world, users):
    put_settings(client, users.expert2, site=2, BaO="2099-01-01T09:00")  # school admins may add programmes now
    assert post(client, 2, world.bao_school, users.admin2, 1002).status_code == 201  # an ordinary programme: yes
    before = snapshot(rt)
    refused = post(client, 2, world.bao_school, users.admin2, 10000)
    assert (refused.status_code, refused.json["code"]) == (403, "forbidden")
    assert refused.json["detail"].startswith("Enkel een LOP-deskundige of de netwerkbeheerder kan anderstalige nieuwkomers")
    switched = client.post(f"/api/v1/sites/2/schools/{world.bao_school}/offerings", user=users.admin2,
                           switched_from=users.expert2, json={"year": "next", "admgr_code": 10000})
    assert switched.status_code == 403  # switched to a school admin: the school admin's rights
    bulk = client.post("/api/v1/sites/2/an", user=users.admin2, json={"schools": "all", "years": ["next"]})
    assert (bulk.status_code, bulk.json["detail"]) == (403, refused.json["detail"])
    assert snapshot(rt) == before

    added = post(client, 2, world.bao_school, users.expert2, 10000)
    assert added.status_code == 201 and added.json["name"] == "Anderstalige nieuwkomers"
    duplicate = post(client, 2, world.bao_school, users.operator, 10000).json
    assert (duplicate["code"], duplicate["detail"]) == ("offering_exists", f"De Linde biedt administratieve groep 10000 al aan in {world.next}.")
    not_bao = post(client, 2, world.bubao_school, users.operator, 10000)
    assert (not_bao.status_code, not_bao.json["errors"][0]["field"]) == (422, "admgr_code")
    log = [r for r in rows_of(rt, site_tables("wp_2_").audit_log) if r[9] == "offering"]
    assert len(log) == 2  # 1002 by the school admin, 10000 by the expert
