"""Onderwijs Vlaanderen: the paged feed, the snapshot, the comparison and its Excel, applying (issue 7)."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from dataclasses import replace

import pytest
import responses
from openpyxl import load_workbook
from responses import matchers
from sqlalchemy import select, update

from jobs.ov_client import CATALOGUE_PATH, OFFERING_PATH
from jobs.runner import run_now
from rules.ov import ov_school_year_label
from rules.spreadsheet import slug
from service import create_app
from service.runtime import Runtime
from tests.conftest import SignedClient
from wp_bridge.db import utcnow
from wp_bridge.tables import network_tables, site_tables

BASE = "https://onderwijs.api.vlaanderen.be"
KEY = "secret-ov-key-123"
SITE = 3


def offering(inst, vest, code, year, description="Opleiding"):
    return {"instelling_nummer": inst, "instellingslocatie_vestigingsnummer": vest, "administratievegroep_code": code,
            "administratievegroep_omschrijving": description, "schooljaar": year, "inschrijvingen": True,
            "financierbaar": True, "begindatum": "2019-09-01", "einddatum": None}


def catalogue_entry(code, graad, leerjaar, vorm):
    return {"administratievegroep_code": code, "administratievegroep_graad": {"code": str(graad), "omschrijving": "graad"},
            "administratievegroep_leerjaar": {"code": str(leerjaar)}, "administratievegroep_onderwijsvorm": {"code": vorm},
            "administratievegroep_finaliteit": {"code": "D"}, "administratievegroep_domein": {"code": "X", "omschrijving": "STEM"},
            "structuuronderdeel_nummer": 4321, "schooljaar": 2026}


def serve(path, records, per_page, total=None, pages_total=None):
    """Register the pages of a listing exactly as the real API shapes them."""
    pages = [records[i:i + per_page] for i in range(0, len(records), per_page)] or [[]]
    total_pages = pages_total or len(pages)
    for number, content in enumerate(pages, start=1):
        responses.add(responses.GET, BASE + path, status=200, match=[
            matchers.query_param_matcher({"page": str(number), "size": "5000"}),
            matchers.header_matcher({"x-api-key": KEY})],
            json={"meta": {"total_elements": total if total is not None else len(records), "total_pages": total_pages,
                           "number": number, "last": number == total_pages}, "content": content})


@pytest.fixture
def ov_rt(rt):
    return Runtime(replace(rt.config, ov_api_url=BASE, ov_api_key=KEY), rt.engine, rt.network)


@pytest.fixture
def world(rt, users, client):
    """Site 3 (SO): Sint-Jan with two vestigingen, a BaO-typed school; catalogue from AgODi (some fields empty).
    Sint-Jan's site offering: 55001 (OV too), 57000 (OV only for last year), 12345 (unknown anywhere, capacity 0),
    59999 (OV lists it at another school), 10000 (AN) and 1011 (primary: outside OV)."""
    nt = network_tables("wp_")
    now = utcnow()
    with rt.engine.begin() as conn:
        conn.execute(nt.admgr.insert(), [
            {"code": 55001, "description": "1ste leerjaar A", "onderwijsvorm": "GSO", "graad": 1, "leerjaar": 1,
             "active": True, "updated_at": now},
            {"code": 56201, "description": "Natuurwetenschappen", "onderwijsvorm": None, "graad": None, "leerjaar": 3,
             "active": True, "updated_at": now},
            {"code": 57000, "description": "Oude richting", "onderwijsvorm": "TSO", "graad": 2, "leerjaar": 3,
             "active": True, "updated_at": now},
            {"code": 10000, "description": "Anderstalige nieuwkomers", "onderwijsvorm": None, "graad": None,
             "leerjaar": None, "active": True, "updated_at": now}])
        conn.execute(nt.admgr.insert(), [
            {"code": 59999, "description": "Andere richting", "onderwijsniveau": "SO", "onderwijsvorm": "TSO", "graad": 2,
             "leerjaar": 4, "active": True, "updated_at": now, "stage": "secundair"},
            {"code": 1011, "description": "1ste leerjaar", "onderwijsniveau": "Lager onderwijs", "onderwijsvorm": None,
             "graad": None, "leerjaar": 1, "active": True, "updated_at": now, "stage": "lager"}])
        current = rt.network.get_site(conn, SITE).current_school_year

    def school(name, type_, locations):
        return client.post(f"/api/v1/sites/{SITE}/schools", user=users.operator, json={
            "name": name, "type": type_, "vestigingen": [{"instellingsnummer": i, "vestigingsnummer": v}
                                                          for i, v in locations]}).json["id"]

    so = school("Sint-Jan", "SO", [(1001, 1), (1001, 2)])
    bao = school("De Linde", "BaO", [(2001, 1)])
    t = site_tables(rt.network.prefix(SITE))
    with rt.engine.begin() as conn:
        conn.execute(t.offerings.insert(), [
            {"school_id": so, "school_year": current, "admgr_code": code, "capacity": 0 if code == 12345 else 20,
             "version": 1, "created_at": now, "updated_at": now} for code in (55001, 57000, 10000, 12345, 59999, 1011)] + [
            {"school_id": bao, "school_year": current, "admgr_code": 1011, "capacity": 20, "version": 1, "created_at": now,
             "updated_at": now}])
    year = int(current[:4])
    feed = [offering(1001, 1, 55001, year, "1ste leerjaar A"), offering(1001, 2, 56201, year, "Natuurwetenschappen"),
            offering(1001, 2, 58888, year, "Nieuwe richting"), offering(1001, 1, 57000, year - 1, "Oude richting"),
            offering(9999, 1, 55001, year), offering(9999, 1, 59999, year, "Andere richting")]
    return {"so": so, "bao": bao, "current": current, "year": year, "feed": feed, "t": t}


def snapshot(rt):
    o = network_tables("wp_").ov_offerings
    with rt.engine.connect() as conn:
        return sorted((r.instellingsnummer, r.vestigingsnummer, r.admgr_code, r.schooljaar) for r in conn.execute(select(o)))


def sync(ov_rt, **options):
    return run_now(ov_rt, "ov-sync", site_id=None, trigger="cli", options=options)


def test_school_year_mapping():
    assert ov_school_year_label(2025) == "2025-2026"


@responses.activate
def test_a_multi_page_feed_is_stored_and_compared(ov_rt, rt, world):
    serve(OFFERING_PATH, world["feed"], per_page=2)
    serve(CATALOGUE_PATH, [catalogue_entry(56201, 2, 3, "ASO"), catalogue_entry(58888, 3, 5, "TSO")], per_page=5000)
    run = sync(ov_rt)
    assert run["status"] == "succeeded", run["error"]
    assert run["summary"].startswith("6 records in 3 pages; site 2: 0 schools compared, 0 only OV, 0 only LOP; "
                                     "site 3: 1 schools compared, 2 only OV, 3 only LOP")
    assert run["summary"].endswith("catalogue: 2 in feed: 1 added, 1 updated, 0 unchanged")
    assert len(snapshot(rt)) == 6
    assert KEY not in str(run)
    a = network_tables("wp_").admgr
    with rt.engine.connect() as conn:
        rows = {r.code: r for r in conn.execute(select(a))}
    assert (rows[56201].onderwijsvorm, rows[56201].graad, rows[56201].leerjaar) == ("ASO", 2, 3)  # empty ones filled
    assert rows[58888].description == "Nieuwe richting" and rows[58888].domein == "STEM"


@responses.activate
def test_retries_5xx_and_waits_for_retry_after(ov_rt, world, monkeypatch):
    waits = []
    monkeypatch.setattr("jobs.ov_client.time.sleep", waits.append)
    url = BASE + OFFERING_PATH
    responses.add(responses.GET, url, status=500)
    responses.add(responses.GET, url, status=502)
    responses.add(responses.GET, url, status=429, headers={"Retry-After": "7"})
    serve(OFFERING_PATH, world["feed"], per_page=5000)
    serve(CATALOGUE_PATH, [], per_page=5000)
    run = sync(ov_rt)
    assert run["status"] == "succeeded", run["error"]
    assert waits == [1.0, 2.0, 7.0]


@responses.activate
def test_gives_up_after_bounded_attempts(ov_rt, world, monkeypatch):
    monkeypatch.setattr("jobs.ov_client.time.sleep", lambda _s: None)
    responses.add(responses.GET, BASE + OFFERING_PATH, status=503)
    run = sync(ov_rt)
    assert run["status"] == "failed"
    assert "gave up after 5 attempts (last: HTTP 503)" in run["error"]


@pytest.mark.parametrize("breakage, message", [
    ("truncated", "received 4 records, meta.total_elements says 6"),
    ("malformed", "not valid JSON"),
    ("shape", "unexpected shape"),
    ("record", "instelling_nummer missing"),
    ("unauthorised", "HTTP 401 (check LOP_OV_API_KEY)"),
])
@responses.activate
def test_a_bad_feed_never_replaces_the_snapshot(ov_rt, rt, world, breakage, message):
    serve(OFFERING_PATH, world["feed"], per_page=5000)
    serve(CATALOGUE_PATH, [], per_page=5000)
    assert sync(ov_rt)["status"] == "succeeded"
    before = snapshot(rt)
    responses.reset()
    url = BASE + OFFERING_PATH
    if breakage == "truncated":
        serve(OFFERING_PATH, world["feed"][:4], per_page=2, total=6)
    elif breakage == "malformed":
        responses.add(responses.GET, url, body='{"meta": {"total_elements": 5', status=200, content_type="application/json")
    elif breakage == "shape":
        responses.add(responses.GET, url, json={"items": []}, status=200)
    elif breakage == "record":
        serve(OFFERING_PATH, [{k: v for k, v in r.items() if k != "instelling_nummer"} for r in world["feed"]], 5000)
    else:
        responses.add(responses.GET, url, status=401)
    serve(CATALOGUE_PATH, [], per_page=5000)
    run = sync(ov_rt)
    assert run["status"] == "failed" and message in run["error"]
    assert snapshot(rt) == before


@responses.activate
def test_a_much_smaller_feed_is_refused_unless_forced(ov_rt, rt, world):
    feed = [offering(3000 + n, 1, 55001, world["year"]) for n in range(10)]
    serve(OFFERING_PATH, feed, per_page=5000)
    serve(CATALOGUE_PATH, [], per_page=5000)
    assert sync(ov_rt)["status"] == "succeeded"
    responses.reset()
    serve(OFFERING_PATH, feed[:8], per_page=5000)  # 20% fewer
    serve(CATALOGUE_PATH, [], per_page=5000)
    refused = sync(ov_rt)
    assert refused["status"] == "failed" and "more than 15% fewer than the 10 stored" in refused["error"]
    assert len(snapshot(rt)) == 10
    assert sync(ov_rt, force=True)["status"] == "succeeded" and len(snapshot(rt)) == 8


@responses.activate
def test_comparison_api_green_red_and_not_covered(ov_rt, client, users, world):
    serve(OFFERING_PATH, world["feed"], per_page=5000)
    serve(CATALOGUE_PATH, [catalogue_entry(56201, 2, 3, "ASO")], per_page=5000)
    sync(ov_rt)
    data = client.get(f"/api/v1/sites/{SITE}/ov-comparison?year=current", user=users.expert3).json
    assert data["school_year"] == world["current"] and data["snapshot_at"].endswith("Z")
    assert (data["state"], data["message"], data["ov_configured"]) == ("ok", None, False)  # this app has no OV settings
    assert data["last_sync"]["status"] == "succeeded" and data["last_sync"]["finished_at"].endswith("Z")
    assert re.fullmatch(r"Gegevens van Onderwijs Vlaanderen opgehaald op \d\d/\d\d/\d{4} \d\d:\d\d\.", data["last_sync"]["summary"])
    schools = {s["name"]: s for s in data["schools"]}
    assert schools["De Linde"]["covered"] is False and schools["De Linde"]["rows"] == []
    sint_jan = schools["Sint-Jan"]
    status = {r["code"]: (r["status"], r["ov_lists_nowhere"]) for r in sint_jan["rows"]}
    assert status == {55001: ("both", False), 56201: ("only_ov", False), 58888: ("only_ov", False),
                      57000: ("only_lop", True),  # OV lists it only for last year: gone
                      12345: ("only_lop", True),  # in no catalogue and at no school: red, gone
                      59999: ("only_lop", False),  # OV lists it, at another school: red, still exists
                      10000: ("not_covered", False), 1011: ("not_covered", False)}  # AN and primary: outside OV
    assert sint_jan["counts"] == {"both": 1, "only_ov": 2, "only_lop": 3}
    assert [r["code"] for r in sint_jan["rows"]][:2] == [55001, 56201]  # SO order: GSO, then ASO
    assert next(r for r in sint_jan["rows"] if r["code"] == 58888)["name"] == "Nieuwe richting"
    one = client.get(f"/api/v1/sites/{SITE}/ov-comparison?school={world['so']}", user=users.expert3).json
    assert one["schools"] == [sint_jan]  # one school, read from its own part of the snapshot: the same answer
    assert {k: v for k, v in one.items() if k != "schools"} == {k: v for k, v in data.items() if k != "schools"}
    only = client.get(f"/api/v1/sites/{SITE}/ov-comparison?school={world['so']}&only_differences=true",
                      user=users.expert3).json["schools"]
    assert {r["status"] for r in only[0]["rows"]} == {"only_ov", "only_lop"}
    assert client.get(f"/api/v1/sites/{SITE}/ov-comparison", user=users.admin2).status_code == 403
    configured = SignedClient(create_app(runtime=ov_rt).test_client())
    assert configured.get(f"/api/v1/sites/{SITE}/ov-comparison", user=users.expert3).json["ov_configured"] is True


def test_without_a_snapshot_nothing_looks_fine(rt, client, users, world):
    """No snapshot: no list of schools with 0 differences, but the state, a Dutch message and why (the last
    sync and whether OV is configured); the Excel and apply refuse."""
    base = f"/api/v1/sites/{SITE}/ov-comparison"
    expected = {"snapshot_at": None, "school_year": world["current"], "state": "no_snapshot",
                "message": "Er werden nog geen gegevens van Onderwijs Vlaanderen opgehaald.", "schools": [],
                "ov_configured": False, "last_sync": None}
    assert client.get(base, user=users.expert3).json == expected
    assert client.get(f"{base}?only_differences=true&school={world['so']}", user=users.expert3).json == expected
    excel = client.get(f"{base}/export.xlsx", user=users.expert3)
    assert (excel.status_code, excel.json["code"], excel.json["detail"]) == (409, "no_ov_snapshot", expected["message"])
    apply = client.post(f"{base}/{world['so']}/apply", user=users.expert3, json={"year": "current", "add": [56201]})
    assert (apply.status_code, apply.json["code"]) == (409, "no_ov_snapshot")
    unknown = client.get(f"{base}?school=999", user=users.expert3)
    assert (unknown.status_code, unknown.json["code"]) == (404, "school_not_found")
    failed = run_now(rt, "ov-sync", site_id=None, trigger="cli")  # LOP_OV_API_URL not set
    last = client.get(base, user=users.expert3).json["last_sync"]
    assert (last["status"], last["finished_at"]) == ("failed", failed["finished_at"])
    assert last["summary"].startswith("De synchronisatie met Onderwijs Vlaanderen van ")  # Dutch, and no other site's data
    assert "mislukt; de vorige gegevens blijven gelden" in last["summary"] and "LOP_OV" not in last["summary"]
    run_now(rt, "ov-sync", site_id=None, trigger="cli", dry_run=True)  # a dry run is not the last sync
    assert client.get(base, user=users.expert3).json["last_sync"] == last


@responses.activate
def test_no_data_for_the_compared_school_year_is_said_not_all_red(ov_rt, client, users, world):
    """OV lists nothing for next school year yet: saying every programme no longer exists would be false."""
    serve(OFFERING_PATH, world["feed"], per_page=5000)
    serve(CATALOGUE_PATH, [], per_page=5000)
    sync(ov_rt)
    base = f"/api/v1/sites/{SITE}/ov-comparison"
    data = client.get(f"{base}?year=next", user=users.expert3).json
    assert (data["state"], data["schools"]) == ("no_year_data", [])
    assert data["message"] == f"Onderwijs Vlaanderen vermeldt (nog) geen aanbod voor schooljaar {data['school_year']}."
    excel = client.get(f"{base}/export.xlsx?year=next", user=users.expert3)
    assert (excel.status_code, excel.json["code"]) == (409, "no_ov_data_for_year")
    responses.reset()
    serve(OFFERING_PATH, [offering(1001, 1, 55001, world["year"] - 1)], per_page=5000)
    serve(CATALOGUE_PATH, [], per_page=5000)
    run = sync(ov_rt, force=True)
    assert f"site 3: OV lists nothing for {world['current']}, not compared" in run["summary"]


@responses.activate
def test_apply_adds_green_removes_red_and_refuses_anything_else(ov_rt, rt, client, users, world):
    serve(OFFERING_PATH, world["feed"], per_page=5000)
    serve(CATALOGUE_PATH, [], per_page=5000)
    sync(ov_rt)
    path = f"/api/v1/sites/{SITE}/ov-comparison/{world['so']}/apply"
    t = world["t"]

    def offerings():
        with rt.engine.connect() as conn:
            return sorted(conn.execute(select(t.offerings.c.admgr_code).where(
                t.offerings.c.school_id == world["so"], t.offerings.c.school_year == world["current"])).scalars())

    before = offerings()
    wrong = client.post(path, user=users.expert3, json={"year": "current", "add": [55001, 56201], "remove": [10000, 1011]})
    assert wrong.status_code == 422
    assert {e["message"].split()[0] for e in wrong.json["errors"]} == {"55001", "10000", "1011"}
    dry = client.post(path, user=users.expert3, json={"year": "current", "add": [56201], "remove": [57000, 12345],
                                                      "dry_run": True})
    assert (dry.json["would_add"], dry.json["would_remove"]) == ([56201], [12345, 57000])
    assert dry.json["needs_confirmation"] == [57000]  # 12345 has capacity 0: nothing to lose
    assert offerings() == before
    unconfirmed = client.post(path, user=users.expert3, json={"year": "current", "add": [56201], "remove": [57000, 12345]})
    assert (unconfirmed.status_code, unconfirmed.json["code"]) == (409, "offering_has_numbers")
    assert [e["message"].split()[0] for e in unconfirmed.json["errors"]] == ["57000"]
    assert "57000" in unconfirmed.json["detail"] and "met hun cijfers" in unconfirmed.json["detail"]
    assert offerings() == before  # nothing written, not even the addition
    done = client.post(path, user=users.expert3, json={"year": "current", "add": [56201, 58888], "remove": [57000, 12345],
                                                       "confirm_numbers": True})
    assert done.status_code == 200, done.json
    assert done.json["school"]["counts"] == {"both": 3, "only_ov": 0, "only_lop": 1}  # 59999 stays red
    assert offerings() == [1011, 10000, 55001, 56201, 58888, 59999]
    with rt.engine.connect() as conn:
        log = conn.execute(select(t.audit_log).where(t.audit_log.c.source == "ov-sync")).all()
    assert sorted((r.action, r.entity) for r in log) == [("create", "offering"), ("create", "offering"),
                                                         ("delete", "offering"), ("delete", "offering")]
    removed = next(json.loads(r.old_value) for r in log if r.action == "delete" and '"admgr_code":57000' in r.old_value)
    assert removed["capacity"] == 20  # the numbers stay in the log
    bad = client.post(path, user=users.expert3, json={"year": "current", "confirm_numbers": "yes"})
    assert bad.status_code == 422 and bad.json["errors"][0]["field"] == "confirm_numbers"


@responses.activate
def test_the_green_red_workbook(ov_rt, rt, client, users, world):
    serve(OFFERING_PATH, world["feed"], per_page=5000)
    serve(CATALOGUE_PATH, [], per_page=5000)
    sync(ov_rt)
    long_name = "Sint-Vincentiuscollege Dendermonde"
    for n, name in enumerate((long_name, "Sint-Vincentiuscollege Dendermonde Vrije Basisschool", "sint-jan")):
        assert client.post(f"/api/v1/sites/{SITE}/schools", user=users.operator, json={
            "name": name, "type": "SO", "vestigingen": [{"instellingsnummer": 3001 + n, "vestigingsnummer": 1}]}).status_code == 201
    with rt.engine.begin() as conn:  # the snapshot's time, as a LOP expert reads it: Brussels time
        conn.execute(update(network_tables("wp_").ov_offerings).values(fetched_at=dt.datetime(2026, 12, 20, 8, 0)))
    response = client.get(f"/api/v1/sites/{SITE}/ov-comparison/export.xlsx", user=users.expert3)
    assert response.status_code == 200
    site_name = next(s["name"] for s in client.get("/api/v1/sites", user=users.expert3).json["sites"] if s["id"] == SITE)
    assert re.fullmatch(rf'attachment; filename="ov-vergelijking-{slug(site_name)}-{world["current"]}\.xlsx"',
                        response.headers["Content-Disposition"])  # the site's name, not its number
    workbook = load_workbook(io.BytesIO(response.get_data()))
    assert workbook.sheetnames[0] == "Overzicht"  # then the schools in the summary's order
    assert set(workbook.sheetnames) == {"Overzicht", "Sint-Jan", "sint-jan (2)", "St-Vincentiuscollege Dendermon…",
                                        "St-Vincentiuscollege Dende… (2)"}
    assert all(len(name) <= 31 for name in workbook.sheetnames)
    tabs = [row[2] for row in workbook["Overzicht"].iter_rows(min_row=7, values_only=True) if row[2]]
    assert tabs == workbook.sheetnames[1:]
    current = world["current"]
    summary = list(workbook["Overzicht"].iter_rows(values_only=True))
    assert summary[0][0] == f"{site_name} – Vergelijking met Onderwijs Vlaanderen, schooljaar {current}"
    assert summary[1][0] == "Gegevens van Onderwijs Vlaanderen van 20/12/2026 09:00"
    assert summary[2][:2] == ("Groen", "staat bij Onderwijs Vlaanderen, ontbreekt op de LOP-website")
    assert summary[3][:2] == ("Rood", "staat op de LOP-website, niet bij Onderwijs Vlaanderen")
    assert workbook["Overzicht"]["A3"].fill.start_color.rgb.endswith("C6EFCE")
    assert workbook["Overzicht"]["A4"].fill.start_color.rgb.endswith("FFC7CE")
    assert summary[5] == ("School", "Instellingsnummer", "Tabblad", "Vergeleken met Onderwijs Vlaanderen", "Op beide",
                          "Enkel bij Onderwijs Vlaanderen (groen)", "Enkel op de LOP-website (rood)",
                          "Rood, bestaat volgens Onderwijs Vlaanderen niet meer")
    assert "Gedekt door OV" not in str(summary)
    header = workbook["Overzicht"]["A6"]
    assert header.font.bold and header.fill.fill_type == "solid" and workbook["Overzicht"].freeze_panes == "A7"
    assert workbook["Overzicht"].auto_filter.ref.startswith("A6:")
    assert summary[6][:4] == ("De Linde", "002001", None, "nee: basisonderwijs, niet in de gegevens van Onderwijs Vlaanderen")
    assert summary[7] == ("Sint-Jan", "001001", "Sint-Jan", "ja", 1, 2, 3, 2)
    sheet = workbook["Sint-Jan"]
    assert sheet["A1"].value == f"{site_name} – Sint-Jan: vergelijking met Onderwijs Vlaanderen, schooljaar {current}"
    assert sheet["A2"].value == "Gegevens van Onderwijs Vlaanderen van 20/12/2026 09:00"
    assert (sheet["B3"].value, sheet["B4"].value) == (summary[2][1], summary[3][1])
    assert [c.value for c in sheet[6]][:4] == ["Onderwijs Vlaanderen", None, None, "LOP-website"]
    assert [c.value for c in sheet[7]] == ["Code", "Opleiding", None, "Code", "Opleiding", "Opmerking"]
    assert sheet.freeze_panes == "A8" and sheet.auto_filter.ref.startswith("A7:") and sheet["A7"].fill.fill_type == "solid"
    rows = {row[0].value or row[3].value: row for row in sheet.iter_rows(min_row=8)}
    assert rows[56201][0].fill.start_color.rgb.endswith("C6EFCE")  # only OV: green, left
    assert rows[57000][3].fill.start_color.rgb.endswith("FFC7CE")  # only the site: red, right
    assert rows[56201][3].value is None and rows[57000][0].value is None
    assert rows[57000][5].value == "bestaat volgens Onderwijs Vlaanderen niet meer"
    assert rows[59999][3].fill.start_color.rgb.endswith("FFC7CE") and rows[59999][5].value is None
    assert rows[1011][5].value.startswith("valt buiten de gegevens van Onderwijs Vlaanderen")
    assert rows[1011][3].fill.fill_type is None


def test_not_configured(rt, users):
    run = run_now(rt, "ov-sync", site_id=None, trigger="cli")
    assert (run["status"], run["error"]) == ("failed", "LOP_OV_API_URL is not set")


@responses.activate
def test_the_workbook_opens_whatever_the_names_hold(ov_rt, client, users, world, rt):
    """A control character an older version stored, and a name that is a formula: still one workbook, the
    texts shown exactly (string cells, never formulas)."""
    serve(OFFERING_PATH, world["feed"], per_page=5000)
    serve(CATALOGUE_PATH, [], per_page=5000)
    sync(ov_rt)
    with rt.engine.begin() as conn:
        conn.execute(update(world["t"].schools).where(world["t"].schools.c.id == world["so"])
                     .values(name='=HYPERLINK("http://x.example","Sint\u000bJan")'))
    response = client.get(f"/api/v1/sites/{SITE}/ov-comparison/export.xlsx", user=users.expert3)
    assert response.status_code == 200
    workbook = load_workbook(io.BytesIO(response.get_data()))
    cell = next(c for c in workbook["Overzicht"]["A"] if c.value != "De Linde" and c.row > 6)
    assert cell.value == '=HYPERLINK("http://x.example","SintJan")' and cell.data_type == "s"
