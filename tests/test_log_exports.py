"""The audit log pages and downloads, and the Export page (issue 5)."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from sqlalchemy import select

from jobs.runner import run_now
from rules.spreadsheet import long_date_nl, slug, title_rows
from service.demo import CATALOGUE
from wp_bridge.audit import Actor, Change, write_audit
from wp_bridge.db import utcnow
from wp_bridge.options import set_option
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
    # the site's name in the file name (slug), not its number
    assert re.search(r'filename="logbestand-[a-z0-9-]+-\d{4}-\d{2}-\d{2}\.csv"', response.headers["Content-Disposition"])
    assert f"site{SITE}" not in response.headers["Content-Disposition"]
    raw = response.get_data()
    assert raw.startswith("\ufeff".encode()) and b"\r\n" in raw
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline=""), delimiter=";"))
    assert rows[0][:3] == ["Tijdstip", "Gebruiker", "Naam"]
    assert len(rows) == 1 + 4
    assert rows[1][14] == "'=HYPERLINK(\"http://x\")"  # newest first; shown as text, never run
    assert rows[-1][11] == "toegevoegd"


def test_xlsx_export_and_a_new_sheet_when_one_is_full(client, rt, users, school, monkeypatch):
    import service.exports

    monkeypatch.setattr(service.exports, "EXCEL_MAX_ROWS", 6)  # 2 title rows + header + 3 rows a sheet
    insert_log(rt, 6, school_id=school, new="-1")
    response = client.get(f"/api/v1/sites/{SITE}/log/export?format=xlsx", user=users.operator)
    assert response.headers["Content-Type"].startswith("application/vnd.openxmlformats")
    workbook = load_workbook(io.BytesIO(response.get_data()))
    assert workbook.sheetnames == ["Logbestand", "Logbestand (2)", "Logbestand (3)"]
    first = workbook["Logbestand"]
    assert first["A1"].value.endswith(" – Logbestand") and first["A2"].value.startswith("Stand op ")
    assert first.freeze_panes == "A4" and first["A3"].value == "Tijdstip" and first["A3"].font.bold
    assert workbook["Logbestand (2)"]["A1"].value == first["A1"].value  # every sheet says what it is
    values = [row for sheet in workbook for row in sheet.iter_rows(min_row=4, values_only=True)]
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
    values = [row[14] for row in sheet.iter_rows(min_row=4, values_only=True)]
    assert values[0] == "tekst met <tags> &  een belletje"  # the control character is dropped
    assert isinstance(sheet["A4"].value, dt.datetime)


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
    assert f'filename="vrije-plaatsen-lop-test-bao-{offerings}.xlsx"' in response.headers["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(response.get_data()))["Vrije plaatsen"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == f"LOP Test BaO – Vrije plaatsen schooljaar {offerings}"
    assert re.fullmatch(r"Stand op \d\d/\d\d/\d{4} \d\d:\d\d", rows[1][0])  # Brussels time, as people write it
    assert rows[2] == ("School", "Instellingsnummer", "Vestigingen", "Schooljaar", "Administratieve groep", "Opleiding",
                       "Capaciteit", "Vrije plaatsen", "Zittende leerlingen", "Percentage indicator", "Achtervoegsel")
    assert rows[3] == ("Andere school", "000099", "000099-1", offerings, 1011, "Lager onderwijs - 1ste leerjaar", 10, 1,
                       None, None, None)
    assert rows[4][:6] == ("De Linde", "004711", "004711-1, 004711-2", offerings, 1001, "Kleuteronderwijs - instapklas")
    assert rows[4][10] == "=cmd" and sheet["K5"].data_type == "s"  # the text exactly, as a string, never run
    assert rows[5][4] == 1012  # display order: leerjaar
    # a header people can filter and print: bold on a fill, frozen below it, filtered, repeated on every page
    assert sheet.freeze_panes == "A4" and sheet.auto_filter.ref == "A3:K6"
    assert all(cell.font.b and cell.fill.fgColor.rgb == "FFD9E1F2" for cell in sheet[3])
    assert sheet["A1"].font.b and sheet["A1"].font.sz == 13
    assert sheet.print_title_rows == "$1:$3" and sheet.page_setup.orientation == "landscape"
    # percentages as percentages: 12.5 percent points are 0.125 shown as 12,50%
    assert rows[4][9] == 0.125 and sheet["J5"].number_format == "0.00%"
    assert sheet["B4"].number_format == "@" and sheet.column_dimensions["A"].width == 36


def test_free_places_csv_for_a_school_admin_shows_only_their_schools(client, users, offerings):
    response = client.get(f"/api/v1/sites/{SITE}/exports/free-places?format=csv", user=users.admin2)
    rows = list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"), newline=""), delimiter=";"))
    # CSV stays machine-readable: the header is the first line, no title rows; percent points with a decimal comma
    assert rows[0][:4] == ["School", "Instellingsnummer", "Vestigingen", "Schooljaar"]
    assert {r[0] for r in rows[1:]} == {"De Linde"} and {r[3] for r in rows[1:]} == {offerings}
    assert rows[1][9] == "12,50"  # decimal comma for Belgian Excel
    assert f'filename="vrije-plaatsen-lop-test-bao-{offerings}.csv"' in response.headers["Content-Disposition"]
    assert client.get(f"/api/v1/sites/{SITE}/exports/offerings", user=users.admin2).status_code == 403


def test_offerings_export_has_every_field(client, users, offerings):
    response = client.get(f"/api/v1/sites/{SITE}/exports/offerings?format=xlsx&year=current", user=users.expert2)
    assert f'filename="aanbod-lop-test-bao-{offerings}.xlsx"' in response.headers["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(response.get_data())).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == f"LOP Test BaO – Aanbod schooljaar {offerings}" and rows[1][0].startswith("Stand op ")
    assert len(rows[2]) == 21 and rows[2][7] == "Opleiding" and rows[2][15] == "Percentage indicator"
    assert rows[3][5] == offerings and rows[3][8] == "BaO"
    assert sheet.freeze_panes == "A4" and sheet.auto_filter.ref == "A3:U6"
    assert rows[4][15] == 0.125 and sheet["P5"].number_format == "0.00%"


def test_site_names_in_file_names_are_ascii_slugs(client, rt, users, offerings):
    with rt.engine.begin() as conn:
        set_option(conn, rt.network.prefix(SITE), "blogname", "LOP Gent &amp; Zelzate – Basisonderwijs")
    response = client.get(f"/api/v1/sites/{SITE}/exports/free-places?format=xlsx", user=users.expert2)
    assert (f'filename="vrije-plaatsen-lop-gent-zelzate-basisonderwijs-{offerings}.xlsx"'
            in response.headers["Content-Disposition"])
    title = load_workbook(io.BytesIO(response.get_data())).active["A1"].value
    assert title == f"LOP Gent & Zelzate – Basisonderwijs – Vrije plaatsen schooljaar {offerings}"
    with rt.engine.begin() as conn:
        set_option(conn, rt.network.prefix(SITE), "blogname", "LOP Test BaO")


@pytest.mark.parametrize("text, expected", [
    ("LOP Gent SO", "lop-gent-so"), ("LOP Brugge – Oostende (BaO)", "lop-brugge-oostende-bao"),
    ("Léuven  Straße", "leuven-strasse"), ("***", "site-2"), ("", "site-2"),
])
def test_slug(text, expected):
    assert slug(text, "site-2") == expected


@given(st.text())
def test_slugs_are_ascii_lower_case_words_joined_by_hyphens(text):
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*|x", slug(text, "x"))


def test_long_dates_in_dutch():
    assert long_date_nl(dt.date(2027, 7, 1)) == "1 juli 2027"
    assert long_date_nl(dt.date(2026, 12, 20)) == "20 december 2026"


def take_scheduled_snapshot(rt, occurrence: dt.datetime, *, run_at: dt.date | None = None):
    """A free-places-snapshot run fired by the scheduler for ``occurrence`` (the path a real scheduler takes)."""
    from apscheduler.triggers.cron import CronTrigger

    from jobs.scheduler import SchedulerProcess

    scheduler = SchedulerProcess(rt, {"free-places-snapshot": CronTrigger.from_crontab("5 0 1 7 *", timezone=rt.config.tz)})
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("jobs.scheduler.previous_fire_time", lambda *_a: occurrence)
        patch.setattr(scheduler, "_sites_for", lambda _spec: [SITE])
        scheduler.fire("free-places-snapshot")
    r = rt.network_tables.job_runs
    with rt.engine.connect() as conn:
        return conn.execute(select(r).where(r.c.job == "free-places-snapshot").order_by(r.c.id.desc())).first()


def test_snapshots_list_and_export(client, rt, users, offerings):
    assert client.get(f"/api/v1/sites/{SITE}/exports/snapshots", user=users.expert2).json == {"snapshots": []}
    july = dt.date(rt.today().year - 1, 7, 1)  # a 1 July past (a snapshot of a day still to come is refused)
    run = take_scheduled_snapshot(rt, dt.datetime(july.year, 7, 1, 0, 5, tzinfo=rt.config.tz))
    assert run.status == "succeeded", run.error
    day = july.isoformat()
    listed = client.get(f"/api/v1/sites/{SITE}/exports/snapshots", user=users.expert2).json["snapshots"]
    assert listed == [{"date": day, "school_year": offerings, "kind": "1_july", "rows": 3}]
    response = client.get(f"/api/v1/sites/{SITE}/exports/free-places?snapshot={day}&format=csv", user=users.admin2)
    rows = list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"), newline=""), delimiter=";"))
    assert [r[4] for r in rows[1:]] == ["1001", "1012"] and {r[3] for r in rows[1:]} == {offerings}
    assert f'vrije-plaatsen-lop-test-bao-{offerings}-stand-op-{day}.csv' in response.headers["Content-Disposition"]
    excel = client.get(f"/api/v1/sites/{SITE}/exports/free-places?snapshot={day}&format=xlsx", user=users.expert2)
    sheet = load_workbook(io.BytesIO(excel.get_data())).active
    assert [sheet["A1"].value, sheet["A2"].value] == [f"LOP Test BaO – Vrije plaatsen schooljaar {offerings}",
                                                      f"Stand op 1 juli {july.year}"]
    assert sheet["D4"].value == offerings and sheet["J4"].value is None and sheet["J5"].value == 0.125
    missing = client.get(f"/api/v1/sites/{SITE}/exports/free-places?snapshot=2020-07-01", user=users.expert2)
    assert (missing.status_code, missing.json["code"]) == (404, "snapshot_not_found")
    assert missing.json["detail"] == "Er zijn voor deze site geen vrije plaatsen bewaard op 01/07/2020."


def test_a_late_scheduled_snapshot_is_still_dated_1_july_and_one_by_hand_carries_its_day(client, rt, users, offerings):
    july = dt.date(rt.today().year - 1, 7, 1)
    # the scheduler was down on 1 July and catches up two days later, within its grace: still the 1 July one
    occurrence = dt.datetime(july.year, 7, 1, 0, 5, tzinfo=rt.config.tz)
    run = take_scheduled_snapshot(rt, occurrence)
    assert run.status == "succeeded" and json.loads(run.options) == {"scheduled_for": occurrence.isoformat()}
    assert json.loads(run.stats)["date"] == july.isoformat()
    # by hand: dated today, whatever --date says (a date only in a dry run)
    backdated = run_now(rt, "free-places-snapshot", site_id=SITE, trigger="cli",
                        options={"date": (rt.today() - dt.timedelta(days=3)).isoformat()})
    assert backdated["status"] == "failed" and "--dry-run" in backdated["error"]
    assert run_now(rt, "free-places-snapshot", site_id=SITE, trigger="cli")["status"] == "succeeded"
    listed = client.get(f"/api/v1/sites/{SITE}/exports/snapshots", user=users.expert2).json["snapshots"]
    assert [(s["date"], s["kind"]) for s in listed] == [(rt.today().isoformat(), "manual"), (july.isoformat(), "1_july")]


def test_snapshots_from_before_schema_v2_get_a_kind_from_their_date(client, rt, users, offerings):
    s = site_tables(rt.network.prefix(SITE)).free_places_snapshots
    row = {"school_year": "2024-2025", "school_id": 1, "school_name": "Oud", "vestigingen": "[]", "admgr_code": 1001,
           "taken_at": utcnow(), "kind": None}
    with rt.engine.begin() as conn:
        conn.execute(s.insert(), [{**row, "snapshot_date": dt.date(2025, 7, 1)}, {**row, "snapshot_date": dt.date(2025, 7, 4)}])
    listed = client.get(f"/api/v1/sites/{SITE}/exports/snapshots", user=users.expert2).json["snapshots"]
    assert [(x["date"], x["kind"]) for x in listed] == [("2025-07-04", "manual"), ("2025-07-01", "1_july")]


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


def test_openpyxl_sheets_get_the_same_title_rows_and_header():
    """The helper other Excel files (the OV comparison, the template) use to look like the exports."""
    from openpyxl import Workbook

    from service.spreadsheets import add_filter, append_row, write_title_and_header

    book = Workbook()
    sheet = book.active
    titles = title_rows("LOP Gent SO", "Vergelijking met Onderwijs Vlaanderen", "2026-2027", dt.datetime(2026, 12, 20, 9, 0))
    assert titles == ["LOP Gent SO – Vergelijking met Onderwijs Vlaanderen schooljaar 2026-2027", "Stand op 20/12/2026 09:00"]
    header = write_title_and_header(sheet, titles, ["School", "=Opleiding"], [30, 40])
    append_row(sheet, ["De Linde", "Lager onderwijs"])
    add_filter(sheet, header)
    buffer = io.BytesIO()
    book.save(buffer)
    sheet = load_workbook(buffer).active
    assert [row for row in sheet.iter_rows(values_only=True)] == [
        (titles[0], None), (titles[1], None), ("School", "=Opleiding"), ("De Linde", "Lager onderwijs")]
    assert header == 3 and sheet.freeze_panes == "A4" and sheet.auto_filter.ref == "A3:B4"
    assert sheet["B3"].data_type == "s" and sheet["B3"].font.b and sheet["B3"].fill.fgColor.rgb == "FFD9E1F2"
    assert sheet["A1"].font.sz == 13 and sheet.print_title_rows == "$1:$3" and sheet.column_dimensions["B"].width == 40
