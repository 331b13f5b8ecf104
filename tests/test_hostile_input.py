"""Hostile and malformed input (issue 13): a clear 4xx, never a 500, and nothing changed."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from service.signing import H_SIGNATURE, H_SWITCHED_FROM, H_TIMESTAMP, H_USER, sign_headers
from tests.conftest import SECRET

SITE = 2
HUGE = 9223372036854775808  # 2**63


def snapshot(rt) -> dict:
    """Every row of the tables a refused request must not touch."""
    from wp_bridge.tables import site_tables

    t = site_tables(rt.network.prefix(SITE))
    core = rt.network.core
    with rt.engine.connect() as conn:
        return {table.name: sorted(map(tuple, conn.execute(select(table)).all()))
                for table in (t.schools, t.vestigingen, t.offerings, t.school_admins, t.audit_log, core.users, core.usermeta)}


@pytest.mark.parametrize("header, value", [
    (H_USER, "²"), (H_USER, "\u00b3"), (H_USER, "¹²"), (H_USER, str(2**64)), (H_SWITCHED_FROM, "²"),
    (H_TIMESTAMP, "²³"), (H_SIGNATURE, "v1=é" + "0" * 63), (H_SIGNATURE, "v1=" + "g" * 64), (H_SIGNATURE, "v1=ab"),
])
def test_malformed_auth_headers_are_401_auth_malformed(app, users, header, value, caplog):
    path = "/api/v1/sites"
    headers = sign_headers(SECRET, "GET", path, user=users.operator)
    headers[header] = value
    response = app.test_client().get(path, headers=headers)
    assert (response.status_code, response.json["code"]) == (401, "auth_malformed"), response.json
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


@pytest.mark.parametrize("path", [
    f"/api/v1/sites/{HUGE}/schools", f"/api/v1/sites/{SITE}/schools/{HUGE}", f"/api/v1/jobs/runs/{HUGE}",
    f"/api/v1/catalogue/admgr/{HUGE}", f"/api/v1/sites/{SITE}/schools/{HUGE}/offerings",
])
def test_ids_beyond_64_bits_in_the_path_are_404(client, users, path):
    response = client.get(path, user=users.operator)
    assert response.status_code == 404, response.json


def test_a_school_admin_gets_403_for_any_school_not_theirs(client, users, schools):
    for school in (HUGE, 999999, schools[0]):
        response = client.get(f"/api/v1/sites/{SITE}/schools/{school}", user=users.admin2)
        assert response.status_code == 403, (school, response.json)


@pytest.mark.parametrize("path, parameter", [
    (f"/api/v1/sites/{SITE}/log?school={HUGE}", "school"), (f"/api/v1/sites/{SITE}/log?user={HUGE}", "user"),
    (f"/api/v1/jobs/runs?site={HUGE}", "site"), (f"/api/v1/sites/{SITE}/log?school=-1", "school"),
    (f"/api/v1/sites/{SITE}/rights?school=1&as_user={HUGE}", "as_user"),
    (f"/api/v1/sites/{SITE}/ov-comparison?school={HUGE}", "school"),
])
def test_integers_beyond_64_bits_in_the_query_are_422_naming_them(client, users, path, parameter):
    response = client.get(path, user=users.operator)
    assert response.status_code == 422, response.json
    assert parameter in {e.get("field") for e in response.json["errors"]}


@pytest.mark.parametrize("query", ["q=%C2%B3", f"q={HUGE}", "q=%F0%9F%99%82", "q=%D9%A3"])
def test_the_catalogue_search_is_text(client, users, query):
    response = client.get(f"/api/v1/catalogue/admgr?{query}", user=users.operator)
    assert response.status_code == 200 and response.json["items"] == []


@pytest.mark.parametrize("body, field", [
    ({"year": "current", "admgr_code": HUGE}, "admgr_code"),
    ({"year": "current", "admgr_code": -5}, "admgr_code"),
])
def test_integers_beyond_64_bits_in_json_are_422_naming_the_field(client, users, schools, body, field):
    response = client.post(f"/api/v1/sites/{SITE}/schools/{schools[0]}/offerings", user=users.operator, json=body)
    assert response.status_code == 422, response.json
    assert field in {e.get("field") for e in response.json["errors"]}


def test_an_with_huge_ids_and_run_site(client, users, schools):
    an = client.post(f"/api/v1/sites/{SITE}/an", user=users.operator, json={"schools": [HUGE], "years": ["current"]})
    assert an.status_code in (404, 422), an.json
    run = client.post("/api/v1/jobs/rollover/runs", user=users.operator, json={"site": HUGE})
    assert run.status_code in (404, 422), run.json


@pytest.mark.parametrize("body", [
    {"name": "x\ud800"}, {"name": "Een\u000bschool"}, {"name": "Een\nschool"},
])
def test_lone_surrogates_and_control_characters_are_422(client, rt, users, schools, body):
    import json

    before = snapshot(rt)
    raw = json.dumps(body).encode()  # \ud800 stays escaped: a lone surrogate in the JSON text
    response = client.patch(f"/api/v1/sites/{SITE}/schools/{schools[0]}", user=users.operator, data=raw,
                            headers={"Content-Type": "application/json"})
    assert response.status_code == 422, response.json
    assert "name" in {e.get("field") for e in response.json["errors"]}
    assert snapshot(rt) == before


@pytest.mark.parametrize("body", [b'{"vestigingen": [{"instellingsnummer": 1}]}', b"", b"[]" , b"null"])
def test_a_patch_of_a_school_without_a_usable_body_is_422(client, rt, users, schools, body):
    before = snapshot(rt)
    response = client.patch(f"/api/v1/sites/{SITE}/schools/{schools[0]}", user=users.operator, data=body,
                            headers={"Content-Type": "application/json"})
    assert response.status_code == 422, response.json
    assert snapshot(rt) == before


def test_json_nested_a_thousand_deep_is_refused(client, users, schools):
    body = b'{"name": ' + b"[" * 1000 + b"]" * 1000 + b"}"
    response = client.patch(f"/api/v1/sites/{SITE}/schools/{schools[0]}", user=users.operator, data=body,
                            headers={"Content-Type": "application/json"})
    assert response.status_code in (400, 422), response.json


@pytest.mark.parametrize("query", ["to=9999-12-31", "from=0001-01-01", "cursor=1e400", f"cursor={HUGE}",
                                   "from=0001-01-01T00:00:00", "to=9999-12-31T23:59:59"])
def test_log_filters_at_the_edges_of_time(client, users, schools, query):
    response = client.get(f"/api/v1/sites/{SITE}/log?{query}", user=users.operator)
    assert response.status_code in (200, 422), response.json


def test_switching_on_network_routes_is_checked(client, users):
    """A switch is valid only to a school admin of a site where the real person manages; else 403."""
    ok = client.get("/api/v1/catalogue/admgr?q=1", user=users.admin2, switched_from=users.expert2)
    assert ok.status_code == 200
    for acting, real in ((users.admin2, 999999), (users.admin2, users.expert3), (users.admin2, users.nobody),
                         (users.expert2, users.operator), (users.nobody, users.operator)):
        for path in ("/api/v1/sites", "/api/v1/jobs", "/api/v1/mail/outbox", "/api/v1/catalogue/admgr?q=1"):
            response = client.get(path, user=acting, switched_from=real)
            assert (response.status_code, response.json["code"]) == (403, "switch_not_allowed"), (acting, real, path)
    as_admin = client.get("/api/v1/jobs", user=users.admin2, switched_from=users.operator)
    assert as_admin.status_code == 403 and as_admin.json["code"] != "switch_not_allowed"  # the school admin's rights


def test_options_naming_files_or_urls_never_come_through_the_api(client, rt, users):
    from tests.test_jobs import fresh_heartbeat

    fresh_heartbeat(rt)
    for body in ({"source": "/proc/self/status"}, {"source": "http://127.0.0.1:22/"}):
        response = client.post("/api/v1/jobs/agodi-sync/runs", user=users.operator, json=body)
        assert (response.status_code, response.json["code"]) == (422, "option_not_allowed")
        assert response.json["errors"][0]["field"] == "source"


def test_a_date_through_the_api_only_for_a_dry_run(client, rt, users):
    from tests.test_jobs import fresh_heartbeat

    fresh_heartbeat(rt)
    real = client.post("/api/v1/jobs/rollover/runs", user=users.operator, json={"site": SITE, "date": "2027-08-01"})
    assert (real.status_code, real.json["code"]) == (422, "option_not_allowed")
    dry = client.post("/api/v1/jobs/rollover/runs", user=users.operator,
                      json={"site": SITE, "date": "2027-08-01", "dry_run": True})
    assert dry.status_code == 202, dry.json


def test_the_ov_api_key_never_follows_a_redirect():
    import responses as fake

    from jobs.ov_client import OvClient, OvFetchError

    with fake.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        mocked.add(fake.GET, "https://ov.example/aanbod", status=302, headers={"Location": "https://evil.example/steal"})
        mocked.add(fake.GET, "https://evil.example/steal", json={"meta": {}, "content": []})
        with pytest.raises(OvFetchError, match="redirect to evil.example refused"):
            OvClient("https://ov.example", "geheime-sleutel", sleep=lambda _s: None).fetch_all("/aanbod")
        assert [call.request.url.split("?")[0] for call in mocked.calls] == ["https://ov.example/aanbod"]


@pytest.mark.parametrize("text, guarded", [
    ("=1+1", True), ("\u200b=1+1", True), ("\uff1d1+1", True), ("\x01@SUM(A1)", True), (" -2", True),
    ("\u00a0+31", True), ("De Linde", False), ("123", False), ("Ω", False), ("", False),
])
def test_the_csv_formula_guard_sees_through_invisible_characters(text, guarded):
    from rules.spreadsheet import csv_chunks

    cell = b"".join(csv_chunks(["x"], [[text]])).decode("utf-8-sig").split("\r\n")[1]
    assert cell.lstrip('"').startswith("'") is guarded, cell


def test_csv_says_its_charset_once(client, users, schools):
    response = client.get(f"/api/v1/sites/{SITE}/exports/offerings?year=current&format=csv", user=users.operator)
    assert response.status_code == 200 and response.headers["Content-Type"] == "text/csv; charset=utf-8"


@pytest.mark.parametrize("number", ["¹²⁰⁶³", "\u0664\u0667\u0661\u0661", "4711.5"])
def test_unicode_digits_in_an_import_are_refused_in_dutch(client, rt, users, schools, number):
    from tests.test_school_admins import upload, workbook_bytes

    before = snapshot(rt)
    response = upload(client, users.expert2, workbook_bytes([(number, "De Linde", "nieuw@school.example")]))
    assert (response.status_code, response.json["code"]) == (422, "import_invalid")
    assert response.json["errors"][0]["column"] == "Instellingsnummer"
    assert "geen instellingsnummer" in response.json["errors"][0]["message"]
    assert snapshot(rt) == before


def test_answers_listing_bad_items_are_bounded(client, rt, users, schools):
    before = snapshot(rt)
    response = client.post(f"/api/v1/sites/{SITE}/an", user=users.operator,
                           json={"schools": list(range(10**6, 10**6 + 100_000)), "years": ["current"]})
    assert response.status_code == 422
    assert len(response.json["errors"]) == 50 and response.json["errors_total"] == 100_000
    assert len(response.get_data()) < 20_000
    assert snapshot(rt) == before


def _patched_workbook(replace_from: bytes, replace_to: bytes) -> bytes:
    """The filled-in template with its first sheet's XML edited by hand (a hostile file)."""
    import io
    import zipfile

    from tests.test_school_admins import workbook_bytes

    source = zipfile.ZipFile(io.BytesIO(workbook_bytes([("4711", "De Linde", "nieuw@school.example")])))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                assert replace_from in data, data[:400]
                data = data.replace(replace_from, replace_to, 1)
            target.writestr(item, data)
    return out.getvalue()


@pytest.mark.parametrize("replace_from, replace_to, fragment", [
    (b"</sheetData>", b'<row r="4000000"><c r="A4000000" t="inlineStr"><is><t>x</t></is></c></row></sheetData>',
     "rij 4000000"),
    (b'r="A2"', b'r="AAAA2"', "AAAA2"),
    (b'r="A2"', b'r="abc"', "abc"),
    (b'<c r="A2" t="inlineStr"', b'<c r="A2" t="d"', "celtype"),
])
def test_hostile_workbooks_are_refused_naming_what(client, rt, users, schools, replace_from, replace_to, fragment):
    import time

    from tests.test_school_admins import upload

    before = snapshot(rt)
    started = time.perf_counter()
    response = upload(client, users.expert2, _patched_workbook(replace_from, replace_to))
    assert (response.status_code, response.json["code"]) == (422, "import_refused"), response.json
    assert fragment in response.json["detail"]
    assert time.perf_counter() - started < 30  # refused as the reader meets it, not after building 4 million rows
    assert snapshot(rt) == before


def test_a_cell_far_to_the_right_is_not_read(client, users, schools):
    from tests.test_school_admins import upload

    data = _patched_workbook(b"</sheetData>", b'<row r="3"><c r="XFD3" t="inlineStr"><is><t>x</t></is></c></row></sheetData>')
    response = upload(client, users.expert2, data, "?dry_run=true")
    assert response.status_code == 200, response.json


def test_no_rollover_before_the_switch_day_and_no_snapshot_of_the_future(client, rt, users):
    from jobs.runner import run_now
    from rules.school_year import switch_date
    from tests.test_jobs import fresh_heartbeat

    fresh_heartbeat(rt)
    with rt.engine.connect() as conn:
        current = rt.network.get_site(conn, SITE).current_school_year
    due = switch_date(current)
    refused = client.post("/api/v1/jobs/rollover/runs", user=users.operator, json={"site": SITE})
    assert (refused.status_code, refused.json["code"]) == (409, "rollover_not_due")
    assert f"{due:%d/%m/%Y}" in refused.json["detail"]
    future = client.post("/api/v1/jobs/free-places-snapshot/runs", user=users.operator,
                         json={"site": SITE, "date": "2999-07-01", "dry_run": True})
    assert future.status_code == 422 and future.json["errors"][0]["field"] == "date"
    early = run_now(rt, "rollover", site_id=SITE, trigger="cli", options={"date": due.isoformat()})
    assert early["status"] == "failed" and "--early" in early["error"]
    snapshot = run_now(rt, "free-places-snapshot", site_id=SITE, trigger="cli", options={"date": "2999-07-01"})
    assert snapshot["status"] == "failed" and "still to come" in snapshot["error"]


def test_null_is_refused_where_the_description_says_a_list(client, rt, users, schools):
    from wp_bridge.db import utcnow
    from wp_bridge.tables import network_tables

    with rt.engine.begin() as conn:
        conn.execute(network_tables("wp_").admgr.insert().values(code=1, description="Lager - 1ste leerjaar", active=True,
                                                                 updated_at=utcnow()))
    created = client.post(f"/api/v1/sites/{SITE}/schools/{schools[0]}/offerings", user=users.operator,
                          json={"year": "current", "admgr_code": 1})
    assert created.status_code == 201, created.json
    path = f"/api/v1/sites/{SITE}/schools/{schools[0]}/offerings/{created.json['id']}"
    response = client.patch(path, user=users.operator, json={"dates": None})
    assert response.status_code == 422 and response.json["errors"][0]["field"] == "dates"
    assert client.patch(path, user=users.operator, json={"dates": []}).status_code == 200


@pytest.mark.parametrize("body", [{"year": "current", "add": [HUGE]}, {"year": "current", "remove": [-1, HUGE]}])
def test_codes_beyond_64_bits_in_lists_are_422(client, rt, users, schools, body):
    before = snapshot(rt)
    response = client.post(f"/api/v1/sites/{SITE}/ov-comparison/{schools[0]}/apply", user=users.operator, json=body)
    assert response.status_code in (409, 422), response.json
    assert snapshot(rt) == before
