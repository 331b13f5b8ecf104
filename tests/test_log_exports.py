"""The audit log pages and downloads, and the Export page (issue 5)."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from sqlalchemy import select

from jobs.runner import run_now
from service.demo import CATALOGUE
from wp_bridge.audit import Actor, Change, write_audit
from wp_bridge.db import utcnow
from wp_bridge.tables import network_tables, site_tables

SITE = 2


def insert_log(rt, n, *, start=None, user_id=1, login="operator", school_id=None, action="update", entity="offering",
               field="free_places", new="3"):
    t = site_tables(rt.network.prefix(SITE))
    start = start or utcnow() - dt.timedelta(days=1)
    with rt.engine.begin() as conn:
        conn.execute(t.audit_log.insert(), [
            {"occurred_at": start + dt.timedelta(seconds=i), "site_id": SITE, "user_id": user_id, "user_login": login,
             "user_role": "lop_expert", "source": "api", "school_id": school_id, "entity": entity, "entity_id": i,
             "action": action, "field": field, "old_value": str(i), "new_value": new} for i in range(n)])


@pytest.fixture
def school(client, users):
    response = client.post(f"/api/v1/sites/{SITE}/schools", user=users.expert2, json={
        "name": "De Linde", "type": "BaO", "vestigingen": [{"instellingsnummer": 4711, "vestigingsnummer": 1},
                                                           {"instellingsnummer": 4711, "vestigingsnummer": 2}]})
    return response.json["id"]


def test_pages_newest_first_with_a_stable_cursor(client, rt, users, school):
    insert_log(rt, 120, user_id=users.expert2, login="expert2", school_id=school)
    first = client.get(f"/api/v1/sites/{SITE}/log?limit=50", user=users.expert2).json
    ids = [e["id"] for e in first["entries"]]
    assert len(ids) == 50 and ids == sorted(ids, reverse=True)
    entry = first["entries"][0]
    assert entry["user"] == {"id": users.expert2, "login": "expert2", "display_name": "Expert2", "role": "lop_expert"}
    assert entry["school"] == {"id": school, "name": "De Linde"}
    assert entry["occurred_at"].endswith("Z") and entry["occurred_at_local"][-6:] in ("+01:00", "+02:00")
    insert_log(rt, 10, start=utcnow())  # new rows arrive while paging
    second = client.get(f"/api/v1/sites/{SITE}/log?limit=50&cursor={first['next_cursor']}", user=users.expert2).json
    assert [e["id"] for e in second["entries"]] == list(range(ids[-1] - 1, ids[-1] - 51, -1))
    third = client.get(f"/api/v1/sites/{SITE}/log?limit=50&cursor={second['next_cursor']}", user=users.expert2).json
    assert third["next_cursor"] is None
    assert len(third["entries"]) == 121 - 100  # 120 inserted + the school's creation row


def test_filters(client, rt, users, school):
    now = utcnow()
    insert_log(rt, 5, start=now - dt.timedelta(days=10), user_id=users.operator, action="create", entity="school")
    insert_log(rt, 3, start=now - dt.timedelta(days=1), user_id=users.expert2, school_id=school)
    get = lambda q: client.get(f"/api/v1/sites/{SITE}/log?{q}", user=users.expert2).json["entries"]
    assert len(get(f"school={school}")) == 4  # 3 + the creation of the school
    assert len(get(f"user={users.operator}&entity=school")) == 5
    assert len(get("action=create&entity=school")) == 6
    since = (now - dt.timedelta(days=2)).date().isoformat()
    assert len(get(f"from={since}")) == 4
    until = (now - dt.timedelta(days=5)).date().isoformat()
    assert len(get(f"to={until}")) == 5
    assert len(get(f"from={(now - dt.timedelta(days=11)).isoformat()}Z&to={since}")) == 5


@pytest.mark.parametrize("query, field", [
    ("limit=0", "limit"), ("limit=501", "limit"), ("cursor=abc", "cursor"), ("from=gisteren", "from"),
    ("to=2027-02-30", "to"), ("school=x", "school"),
])
def test_bad_filters_name_the_parameter(client, users, query, field):
    response = client.get(f"/api/v1/sites/{SITE}/log?{query}", user=users.expert2)
    assert response.status_code == 422
    assert field in {e["field"] for e in response.json["errors"]}


def test_only_managers_read_the_log(client, users):
    for user in (users.admin2, users.nobody, 0):
        assert client.get(f"/api/v1/sites/{SITE}/log", user=user).status_code == 403
        assert client.get(f"/api/v1/sites/{SITE}/log/export", user=user).status_code == 403


def test_csv_export_is_excel_ready_and_escaped(client, rt, users, school):
    insert_log(rt, 3, user_id=users.expert2, login="expert2", school_id=school, new="=HYPERLINK(\"http://x\")")
    response = client.get(f"/api/v1/sites/{SITE}/log/export?format=csv", user=users.expert2)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert f'filename="logbestand-site{SITE}-' in response.headers["Content-Disposition"]
    raw = response.get_data()
    assert raw.startswith("\ufeff".encode()) and b"\r\n" in raw
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline=""), delimiter=";"))
    assert rows[0][:3] == ["Tijdstip", "Gebruiker", "Naam"]
    assert len(rows) == 1 + 4
    assert rows[1][14] == "'=HYPERLINK(\"http://x\")"  # newest first; shown as text, never run
    assert rows[-1][11] == "toegevoegd"


def test_xlsx_export_and_a_new_sheet_when_one_is_full(client, rt, users, school, monkeypatch):
    import service.exports

    monkeypatch.setattr(service.exports, "EXCEL_MAX_ROWS", 4)  # header + 3 rows a sheet
    insert_log(rt, 6, school_id=school, new="-1")
    response = client.get(f"/api/v1/sites/{SITE}/log/export?format=xlsx", user=users.operator)
    assert response.headers["Content-Type"].startswith("application/vnd.openxmlformats")
    workbook = load_workbook(io.BytesIO(response.get_data()))
    assert workbook.sheetnames == ["Logbestand", "Logbestand (2)", "Logbestand (3)"]
    first = workbook["Logbestand"]
    assert first.freeze_panes == "A2" and first["A1"].value == "Tijdstip" and first["A1"].font.bold
    values = [row for sheet in workbook for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert len(values) == 7
    assert values[0][14] == "-1"  # a string cell: the text exactly, never a formula


def test_xlsx_parts_are_well_formed(client, rt, users, school):
    import xml.etree.ElementTree as ET
    import zipfile

    insert_log(rt, 3, school_id=school, new="tekst met <tags> & \x07 een belletje")
    data = client.get(f"/api/v1/sites/{SITE}/log/export?format=xlsx", user=users.operator).get_data()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        names = archive.namelist()
        for name in names:
            ET.fromstring(archive.read(name))  # every part parses with a strict XML parser
        types = archive.read("[Content_Types].xml").decode()
    assert {"[Content_Types].xml", "_rels/.rels", "xl/workbook.xml", "xl/styles.xml", "xl/worksheets/sheet1.xml"} <= set(names)
    assert "/xl/worksheets/sheet1.xml" in types
    sheet = load_workbook(io.BytesIO(data))["Logbestand"]
    values = [row[14] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert values[0] == "tekst met <tags> &  een belletje"  # the control character is dropped
    assert isinstance(sheet["A2"].value, dt.datetime)


def _log_row(n: int, utc_text: str) -> tuple:
    return (n, utc_text, 1, "x", "r", None, "api", None, "e", None, "a", None, None, None, None, None, None)


def test_local_times_in_exports_follow_daylight_saving(rt, users):
    from service.api.log import log_rows

    stamps = ["2027-03-28 00:59:59", "2027-03-28 01:00:00",  # spring change at 01:00 UTC
              "2027-10-31 00:59:59", "2027-10-31 01:00:00"]  # autumn change
    rows = [_log_row(n, stamp) for n, stamp in enumerate(stamps)]
    assert [row[0] for row in log_rows(rows, rt.config.tz, {}, {})] == [
        "28/03/2027 01:59:59", "28/03/2027 03:00:00", "31/10/2027 02:59:59", "31/10/2027 02:00:00"]
    as_datetimes = [row[0] for row in log_rows(rows, rt.config.tz, {}, {}, datetimes=True)]
    assert as_datetimes[1] == dt.datetime(2027, 3, 28, 3)
    archived = [row[:2] + row[16:17] for row in log_rows(rows, rt.config.tz, {}, {}, archive=True)]
    assert archived[1] == (1, "28/03/2027 03:00:00", stamps[1])  # the archive keeps the stored UTC time too


@settings(max_examples=300, deadline=None)
@given(instants=st.lists(st.datetimes(min_value=dt.datetime(1990, 1, 1), max_value=dt.datetime(2060, 12, 31)),
                         min_size=1, max_size=20),
       zone=st.sampled_from(["Europe/Brussels", "Asia/Kolkata", "America/St_Johns", "UTC"]))
def test_local_export_times_equal_a_full_time_zone_conversion(instants, zone):
    """The per-hour shortcut of log_rows gives what converting every instant would, also where the offset
    is not whole hours."""
    from zoneinfo import ZoneInfo

    from service.api.log import log_rows

    tz = ZoneInfo(zone)
    texts = [instant.strftime("%Y-%m-%d %H:%M:%S") for instant in instants]
    expected = [dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).astimezone(tz).strftime("%d/%m/%Y %H:%M:%S")
                for text in texts]
    assert [row[0] for row in log_rows([_log_row(n, t) for n, t in enumerate(texts)], tz, {}, {})] == expected


def test_export_streams_in_keyset_batches(rt, users, school):
    from sqlalchemy import event

    from wp_bridge import audit_read

    insert_log(rt, 25, school_id=school)
    statements = []

    def count(_conn, _cursor, statement, *_args):
        if "audit_log" in statement:
            statements.append(statement)

    event.listen(rt.engine, "before_cursor_execute", count)
    try:
        stream = audit_read.stream(rt.engine, site_tables(rt.network.prefix(SITE)), rt.network.core,
                                   audit_read.LogFilter(), batch=10)
        first = next(stream)
        assert len(statements) == 1  # the first row is there after one batch
        rows = [first, *stream]
    finally:
        event.remove(rt.engine, "before_cursor_execute", count)
    assert len(rows) == 26 and [r[0] for r in rows] == sorted((r[0] for r in rows), reverse=True)
    assert len(statements) == 3
    assert all("audit_log.id < " in s for s in statements[1:])  # keyset: continue below the last id


# --- the Export page ----------------------------------------------------------------------------


@pytest.fixture
def offerings(rt, users, school, client):
    now = utcnow()
    with rt.engine.begin() as conn:
        conn.execute(network_tables("wp_").admgr.insert(), [
            {"code": c, "description": d, "onderwijsniveau": n, "onderwijsvorm": v, "graad": g, "leerjaar": lj,
             "active": True, "updated_at": now} for c, d, n, v, g, lj in CATALOGUE])
        current = rt.network.get_site(conn, SITE).current_school_year
        t = site_tables(rt.network.prefix(SITE))
        conn.execute(t.offerings.insert(), [
            {"school_id": school, "school_year": current, "admgr_code": code, "capacity": 24, "free_places": free,
             "enrolled": 24 - free, "indicator_pct": 12.5, "suffix": suffix, "version": 1, "created_at": now,
             "updated_at": now} for code, free, suffix in ((1012, 2, None), (1001, 5, "=cmd"))])
    other = client.post(f"/api/v1/sites/{SITE}/schools", user=users.expert2, json={
        "name": "Andere school", "type": "BaO", "vestigingen": [{"instellingsnummer": 99, "vestigingsnummer": 1}]}).json["id"]
    with rt.engine.begin() as conn:
        conn.execute(t.offerings.insert().values(school_id=other, school_year=current, admgr_code=1011, capacity=10,
                                                 free_places=1, version=1, created_at=now, updated_at=now))
        conn.execute(t.school_admins.insert().values(school_id=school, user_id=users.admin2, created_at=now))
    return current


def test_free_places_excel(client, users, offerings):
    response = client.get(f"/api/v1/sites/{SITE}/exports/free-places?year=current&format=xlsx", user=users.expert2)
    sheet = load_workbook(io.BytesIO(response.get_data()))["Vrije plaatsen"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("School", "Instellingsnummer", "Vestigingen", "Administratieve groep", "Opleiding", "Capaciteit",
                       "Vrije plaatsen", "Zittende leerlingen", "Percentage indicator", "Achtervoegsel")
    assert rows[1] == ("Andere school", "000099", "000099-1", 1011, "Lager onderwijs - 1ste leerjaar", 10, 1, None, None, None)
    assert rows[2][:5] == ("De Linde", "004711", "004711-1, 004711-2", 1001, "Kleuteronderwijs - instapklas")
    assert rows[2][9] == "=cmd" and sheet["J3"].data_type == "s"  # the text exactly, as a string, never run
    assert rows[3][3] == 1012  # display order: leerjaar
    assert sheet.freeze_panes == "A2"
    assert sheet["B2"].number_format == "@" and sheet["I3"].number_format == "0.00"
    assert sheet.column_dimensions["A"].width == 36


def test_free_places_csv_for_a_school_admin_shows_only_their_schools(client, users, offerings):
    response = client.get(f"/api/v1/sites/{SITE}/exports/free-places?format=csv", user=users.admin2)
    rows = list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"), newline=""), delimiter=";"))
    assert {r[0] for r in rows[1:]} == {"De Linde"}
    assert rows[1][8] == "12,50"  # decimal comma for Belgian Excel
    assert client.get(f"/api/v1/sites/{SITE}/exports/offerings", user=users.admin2).status_code == 403


def test_offerings_export_has_every_field(client, users, offerings):
    response = client.get(f"/api/v1/sites/{SITE}/exports/offerings?format=xlsx&year=current", user=users.expert2)
    rows = list(load_workbook(io.BytesIO(response.get_data())).active.iter_rows(values_only=True))
    assert len(rows[0]) == 21 and rows[0][7] == "Opleiding"
    assert rows[1][5] == offerings and rows[1][8] == "BaO"


def test_snapshots_list_and_export(client, rt, users, offerings):
    assert client.get(f"/api/v1/sites/{SITE}/exports/snapshots", user=users.expert2).json == {"snapshots": []}
    day = "2026-07-01"  # a day past (a snapshot of a day still to come is refused)
    run = run_now(rt, "free-places-snapshot", site_id=SITE, trigger="cli", options={"date": day})
    assert run["status"] == "succeeded"
    listed = client.get(f"/api/v1/sites/{SITE}/exports/snapshots", user=users.expert2).json["snapshots"]
    assert listed == [{"date": day, "school_year": offerings, "rows": 3}]
    response = client.get(f"/api/v1/sites/{SITE}/exports/free-places?snapshot={day}&format=csv", user=users.admin2)
    rows = list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"), newline=""), delimiter=";"))
    assert [r[3] for r in rows[1:]] == ["1001", "1012"]
    assert f'vrije-plaatsen-site2-{day}.csv' in response.headers["Content-Disposition"]
    missing = client.get(f"/api/v1/sites/{SITE}/exports/free-places?snapshot=2020-07-01", user=users.expert2)
    assert (missing.status_code, missing.json["code"]) == (404, "snapshot_not_found")


# --- pruning ------------------------------------------------------------------------------------


def test_prune_archives_first_then_deletes(rt, users, tmp_path, monkeypatch, capsys):
    from service.cli import main

    t = site_tables(rt.network.prefix(SITE))
    insert_log(rt, 4, start=dt.datetime(2020, 3, 1, 12))
    with rt.engine.begin() as conn:
        write_audit(conn, t, SITE, Actor(1, "operator", "operator", "api"), [Change("school", "update", field="name")])
    monkeypatch.setenv("LOP_DATABASE_URL", rt.config.database_url)
    archive = tmp_path / "archief.csv.gz"
    assert main(["log", "prune", "--site", str(SITE), "--before", "2021-01-01", "--archive", str(archive)]) == 0
    assert "archived 4 log rows" in capsys.readouterr().out
    rows = list(csv.reader(io.StringIO(gzip.decompress(archive.read_bytes()).decode("utf-8-sig"), newline=""), delimiter=";"))
    assert rows[0][0] == "Log-ID" and len(rows) == 5
    with rt.engine.connect() as conn:
        left = conn.execute(select(t.audit_log)).all()
    assert len(left) == 1 and left[0].action == "update" and left[0].occurred_at.year > 2020
    assert main(["log", "prune", "--site", str(SITE), "--before", "2021-01-01", "--archive", str(archive)]) == 1
    assert "exists already" in capsys.readouterr().err
