"""Onderwijs Vlaanderen: the paged feed, the snapshot, the comparison and its Excel, applying (issue 7)."""

from __future__ import annotations

import io
from dataclasses import replace

import pytest
import responses
from openpyxl import load_workbook
from responses import matchers
from sqlalchemy import select, update

from jobs.ov_client import CATALOGUE_PATH, OFFERING_PATH
from jobs.runner import run_now
from rules.ov import ov_school_year_label
from service.runtime import Runtime
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
    """Site 3 (SO): Sint-Jan with two vestigingen, a BaO-typed school; catalogue from AgODi (some fields empty)."""
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
            {"school_id": so, "school_year": current, "admgr_code": code, "capacity": 20, "version": 1,
             "created_at": now, "updated_at": now} for code in (55001, 57000, 10000, 12345)] + [
            {"school_id": bao, "school_year": current, "admgr_code": 1011, "capacity": 20, "version": 1, "created_at": now,
             "updated_at": now}])
    year = int(current[:4])
    feed = [offering(1001, 1, 55001, year, "1ste leerjaar A"), offering(1001, 2, 56201, year, "Natuurwetenschappen"),
            offering(1001, 2, 58888, year, "Nieuwe richting"), offering(1001, 1, 57000, year - 1, "Oude richting"),
            offering(9999, 1, 55001, year)]
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
    assert run["summary"].startswith("5 records in 3 pages; site 2: 0 schools compared, 0 only OV, 0 only LOP; "
                                     "site 3: 1 schools compared, 2 only OV, 1 only LOP")
    assert run["summary"].endswith("catalogue: 2 in feed: 1 added, 1 updated, 0 unchanged")
    assert len(snapshot(rt)) == 5
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
    ("truncated", "received 4 records, meta.total_elements says 5"),
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
        serve(OFFERING_PATH, world["feed"][:4], per_page=2, total=5)
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
    schools = {s["name"]: s for s in data["schools"]}
    assert schools["De Linde"]["covered"] is False and schools["De Linde"]["rows"] == []
    sint_jan = schools["Sint-Jan"]
    status = {r["code"]: r["status"] for r in sint_jan["rows"]}
    assert status == {55001: "both", 56201: "only_ov", 58888: "only_ov", 57000: "only_lop", 10000: "not_covered",
                      12345: "not_covered"}
    assert sint_jan["counts"] == {"both": 1, "only_ov": 2, "only_lop": 1}
    assert [r["code"] for r in sint_jan["rows"]][:2] == [55001, 56201]  # SO order: GSO, then ASO
    assert next(r for r in sint_jan["rows"] if r["code"] == 58888)["name"] == "Nieuwe richting"
    one = client.get(f"/api/v1/sites/{SITE}/ov-comparison?school={world['so']}", user=users.expert3).json["schools"]
    assert one == [sint_jan]  # one school, read from its own part of the snapshot: the same answer
    only = client.get(f"/api/v1/sites/{SITE}/ov-comparison?school={world['so']}&only_differences=true",
                      user=users.expert3).json["schools"]
    assert {r["status"] for r in only[0]["rows"]} == {"only_ov", "only_lop"}
    assert client.get(f"/api/v1/sites/{SITE}/ov-comparison", user=users.admin2).status_code == 403


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
    wrong = client.post(path, user=users.expert3, json={"year": "current", "add": [55001, 56201], "remove": [10000]})
    assert wrong.status_code == 422
    assert {e["message"].split()[0] for e in wrong.json["errors"]} == {"55001", "10000"}
    dry = client.post(path, user=users.expert3, json={"year": "current", "add": [56201], "remove": [57000], "dry_run": True})
    assert (dry.json["would_add"], dry.json["would_remove"]) == ([56201], [57000])
    assert offerings() == before
    done = client.post(path, user=users.expert3, json={"year": "current", "add": [56201, 58888], "remove": [57000]})
    assert done.status_code == 200, done.json
    assert done.json["school"]["counts"] == {"both": 3, "only_ov": 0, "only_lop": 0}
    assert offerings() == [10000, 12345, 55001, 56201, 58888]
    with rt.engine.connect() as conn:
        log = conn.execute(select(t.audit_log).where(t.audit_log.c.source == "ov-sync")).all()
    assert sorted((r.action, r.entity) for r in log) == [("create", "offering"), ("create", "offering"), ("delete", "offering")]


@responses.activate
def test_the_green_red_workbook(ov_rt, client, users, world):
    serve(OFFERING_PATH, world["feed"], per_page=5000)
    serve(CATALOGUE_PATH, [], per_page=5000)
    sync(ov_rt)
    response = client.get(f"/api/v1/sites/{SITE}/ov-comparison/export.xlsx", user=users.expert3)
    workbook = load_workbook(io.BytesIO(response.get_data()))
    assert workbook.sheetnames == ["Overzicht", "Sint-Jan"]
    summary = list(workbook["Overzicht"].iter_rows(values_only=True))
    assert summary[1][:3] == ("De Linde", "002001", "nee (basisonderwijs)")  # schools in name order
    assert summary[2][:6] == ("Sint-Jan", "001001", "ja", 1, 2, 1)
    sheet = workbook["Sint-Jan"]
    rows = {row[0].value or row[3].value: row for row in sheet.iter_rows(min_row=3)}
    assert rows[56201][0].fill.start_color.rgb.endswith("C6EFCE")  # only OV: green, left
    assert rows[57000][3].fill.start_color.rgb.endswith("FFC7CE")  # only the site: red, right
    assert rows[56201][3].value is None and rows[57000][0].value is None


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
    cell = next(c for c in workbook["Overzicht"]["A"] if c.value != "De Linde" and c.row > 1)
    assert cell.value == '=HYPERLINK("http://x.example","SintJan")' and cell.data_type == "s"
