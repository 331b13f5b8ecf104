"""Issue 14, point 3: the log says what changed — the offering and school at the time, Dutch downloads."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st
from openpyxl import load_workbook
from sqlalchemy import select

from rules.audit_text import ACTIONS, ENTITIES, ROLES, SOURCES, readable, word
from tests import test_offerings
from tests.test_offerings import put_settings
from tests.test_school_admins import upload, workbook_bytes
from wp_bridge.audit import Actor
from wp_bridge.db import utcnow
from wp_bridge.ov import apply_changes
from wp_bridge.rollover import roll_one_year
from wp_bridge.tables import network_tables, site_tables

world = test_offerings.world  # the fixture: two sites with schools, offerings and a catalogue
BRUSSELS = ZoneInfo("Europe/Brussels")
HEADINGS = ["Tijdstip", "Gebruiker", "Naam", "Rol", "Via account van", "Bron", "School", "Opleiding",
            "Administratieve groep", "Schooljaar", "Onderdeel", "Actie", "Veld", "Oude waarde", "Nieuwe waarde"]


def log_rows(rt, site):
    with rt.engine.connect() as conn:
        return conn.execute(select(site_tables(rt.network.prefix(site)).audit_log).order_by("id")).mappings().all()


def entries(client, user, site=3, query=""):
    response = client.get(f"/api/v1/sites/{site}/log?limit=500{query}", user=user)
    assert response.status_code == 200, response.json
    return response.json["entries"]


def test_an_offering_entry_keeps_the_offering_and_school_through_rename_deletion_and_rollover(client, world, users, rt):
    offering_id = world.offerings[(world.so_school, world.current, 56201)]
    path = f"/api/v1/sites/3/schools/{world.so_school}/offerings/{offering_id}"
    assert client.patch(path, user=users.expert3, json={"capacity": 26}).status_code == 200
    assert client.patch(f"/api/v1/sites/3/schools/{world.so_school}", user=users.expert3,
                        json={"name": "Sint-Jan Nieuw"}).status_code == 200
    assert client.delete(path, user=users.expert3).status_code == 204
    with rt.engine.begin() as conn:
        roll_one_year(conn, site_tables("wp_3_"), 3, "wp_3_", world.current, Actor(0, "", "system", "rollover"))
    assert client.delete(f"/api/v1/sites/3/schools/{world.so_school}?force=true", user=users.expert3).status_code == 204

    log = entries(client, users.expert3, query=f"&school={world.so_school}")
    update = next(e for e in log if e["entity"] == "offering" and e["action"] == "update")
    expected = {"id": offering_id, "admgr_code": 56201, "name": "Natuurwetenschappen", "school_year": world.current}
    assert update["offering"] == expected
    assert (update["field"], update["old_value"], update["new_value"]) == ("capacity", "24", "26")  # codes stay
    assert update["school_name"] == "Sint-Jan"  # the name at the time, not the later one
    assert update["school"] == {"id": world.so_school, "name": None}  # the school is gone now
    deleted = next(e for e in log if e["entity"] == "offering" and e["action"] == "delete" and e["entity_id"] == offering_id)
    assert deleted["offering"] == expected and deleted["school_name"] == "Sint-Jan Nieuw"
    rename = next(e for e in log if e["entity"] == "school" and e["field"] == "name")
    assert rename["school_name"] == "Sint-Jan Nieuw" and rename["offering"] is None
    rolled = next(e for e in log if e["entity"] == "school" and e["action"] == "rollover")
    assert rolled["school_name"] == "Sint-Jan Nieuw" and rolled["source"] == "rollover"
    # deleted with the school after the rollover: the next year's offering, named, under the school's last name
    with_school = [e for e in log if e["entity"] == "offering" and e["action"] == "delete" and e["entity_id"] != offering_id]
    assert with_school and all(e["offering"]["name"] and e["school_name"] == "Sint-Jan Nieuw" for e in with_school)
    assert {e["offering"]["school_year"] for e in with_school} == {world.next, f"{int(world.next[:4]) + 1}-{int(world.next[:4]) + 2}"}
    school_deleted = next(e for e in log if e["entity"] == "school" and e["action"] == "delete")
    assert school_deleted["school_name"] == "Sint-Jan Nieuw"
    stored = [r for r in log_rows(rt, 3) if r["school_id"] == world.so_school]
    assert all(r["school_name"] for r in stored)
    assert all(json.loads(r["offering"])["admgr_code"] for r in stored if r["entity"] == "offering")


def test_entries_written_before_show_no_offering_and_the_current_school_name(client, world, users, rt):
    t = site_tables("wp_3_")
    with rt.engine.begin() as conn:
        conn.execute(t.audit_log.insert().values(
            occurred_at=utcnow(), site_id=3, user_id=users.expert3, user_login="expert3", user_role="lop_expert",
            source="api", school_id=world.so_school, entity="offering", entity_id=1, action="update",
            field="capacity", old_value="25", new_value="26"))
    old = entries(client, users.expert3)[0]
    assert old["offering"] is None and old["school_name"] == "Sint-Jan"
    assert old["school"] == {"id": world.so_school, "name": "Sint-Jan"}


def test_an_and_ov_rows_name_the_programme(client, world, users, rt):
    response = client.post("/api/v1/sites/2/an", user=users.expert2, json={"schools": "all", "years": ["next"]})
    assert response.status_code == 200
    an = [r for r in log_rows(rt, 2) if r["entity"] == "offering"]
    assert len(an) == 1 and an[0]["school_name"] == "De Linde"
    assert json.loads(an[0]["offering"]) == {"id": an[0]["entity_id"], "admgr_code": 10000,
                                             "name": "Anderstalige nieuwkomers", "school_year": world.next}
    with rt.engine.begin() as conn:
        apply_changes(conn, site_tables("wp_3_"), 3, Actor(users.expert3, "expert3", "lop_expert", "ov-sync"),
                      world.so_school, world.current, [56202], [55104], nt=network_tables("wp_"), confirm_numbers=True)
    ov = {r["action"]: r for r in log_rows(rt, 3) if r["source"] == "ov-sync"}
    assert json.loads(ov["create"]["offering"])["name"] == "Elektromechanische technieken"
    removed = json.loads(ov["delete"]["offering"])
    assert (removed["admgr_code"], removed["id"]) == (55104, world.offerings[(world.so_school, world.current, 55104)])
    assert removed["name"] and ov["delete"]["school_name"] == ov["create"]["school_name"] == "Sint-Jan"


def test_the_excel_import_logs_source_import(client, rt, users, schools):
    response = upload(client, users.expert2, workbook_bytes([("004711", "De Linde", "nieuw@linde.be")]))
    assert response.status_code == 200, response.json
    one = client.post(f"/api/v1/sites/2/schools/{schools[1]}/admins", user=users.expert2, json={"email": "los@kompas.be"})
    assert one.status_code in (200, 201), one.json
    rows = [r for r in log_rows(rt, 2) if r["entity"] == "school_admin"]
    assert [(r["source"], r["school_name"]) for r in rows] == [("import", "De Linde"), ("api", "Het Kompas")]


def _export(client, user, fmt):
    response = client.get(f"/api/v1/sites/3/log/export?format={fmt}", user=user)
    assert response.status_code == 200
    return response.get_data()


def test_the_downloads_read_as_dutch(client, world, users, rt):
    assert put_settings(client, users.expert3, SO="2099-01-01T09:00").status_code == 200
    offering_id = world.offerings[(world.so_school, world.current, 56201)]
    path = f"/api/v1/sites/3/schools/{world.so_school}/offerings/{offering_id}"
    assert client.patch(path, user=users.expert3, json={"capacity": 26, "indicator_pct": 12.5}).status_code == 200
    assert client.delete(path, user=users.expert3).status_code == 204

    text = _export(client, users.expert3, "csv").decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
    assert rows[0] == HEADINGS
    body = rows[1:]
    deleted, *rest = [r for r in body if r[10] == "aanbod"]
    assert deleted[3:13] == ["LOP-deskundige", "", "website", "Sint-Jan", "Natuurwetenschappen", "56201", world.current,
                             "aanbod", "verwijderd", ""]
    assert "capaciteit: 26" in deleted[13] and "vrije plaatsen: 4" in deleted[13] and "{" not in deleted[13]
    changed = {r[12]: r for r in rest}
    assert changed["capaciteit"][11:] == ["gewijzigd", "capaciteit", "24", "26"]
    assert changed["percentage indicatorleerlingen"][13:] == ["", "12,50"]
    start = next(r for r in body if r[12] == "start vrije inschrijvingen SO")
    assert start[10:] == ["instellingen", "gewijzigd", "start vrije inschrijvingen SO", "", "01/01/2099 09:00"]
    rights = next(r for r in body if r[12] == "rechten schoolbeheerders SO, lopend schooljaar")
    assert rights[13:] == ["geen rechten", "vrije plaatsen wijzigen"]
    school = next(r for r in body if r[10] == "school" and r[11] == "toegevoegd" and r[6] == "Sint-Jan")
    assert school[14] == "naam: Sint-Jan; type: SO; vestigingen: 001001-1" and school[3] == "beheerder"
    local = dt.datetime.strptime(changed["capaciteit"][0], "%d/%m/%Y %H:%M:%S").replace(tzinfo=BRUSSELS)
    assert abs(local - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=5)  # Brussels time, not UTC
    assert not any(cell.startswith(("{", "[")) for row in body for cell in row)

    sheet = load_workbook(io.BytesIO(_export(client, users.expert3, "xlsx")))["Logbestand"]
    assert sheet["A1"].value == "LOP Test SO – Logbestand"  # the title rows name the LOP site
    values = list(sheet.iter_rows(min_row=3, values_only=True))
    assert list(values[0]) == HEADINGS
    assert [list(v[1:]) for v in values[1:]] == [[c or None for c in r[1:8]] + [int(r[8]) if r[8] else None]
                                                  + [c or None for c in r[9:]] for r in body]
    assert isinstance(values[1][0], dt.datetime) and sheet["A4"].number_format == "dd/mm/yyyy hh:mm:ss"
    assert values[1][0].strftime("%d/%m/%Y %H:%M:%S") == body[0][0]


def test_the_prune_archive_keeps_the_stored_codes(rt, users, world, client, tmp_path, monkeypatch, capsys):
    from service.cli import main

    offering_id = world.offerings[(world.so_school, world.current, 56201)]
    client.patch(f"/api/v1/sites/3/schools/{world.so_school}/offerings/{offering_id}", user=users.expert3,
                 json={"capacity": 26})
    monkeypatch.setenv("LOP_DATABASE_URL", rt.config.database_url)
    archive = tmp_path / "archief.csv.gz"
    tomorrow = (dt.date.today() + dt.timedelta(days=2)).isoformat()
    assert main(["log", "prune", "--site", "3", "--before", tomorrow, "--archive", str(archive)]) == 0
    import gzip
    rows = list(csv.reader(io.StringIO(gzip.decompress(archive.read_bytes()).decode("utf-8-sig"), newline=""), delimiter=";"))
    assert rows[0][:2] == ["Log-ID", "Tijdstip"] and rows[0][-7:] == [
        "Tijdstip (UTC)", "School-ID", "Onderdeel-ID", "Verzoek-ID", "Opgeslagen oude waarde", "Opgeslagen nieuwe waarde",
        "Codes (rol; bron; onderdeel; actie; veld)"]
    update = next(r for r in rows if r[-1] == "lop_expert; api; offering; update; capacity")
    assert update[12] == "gewijzigd" and update[-3:-1] == ["24", "26"] and update[-5] == str(offering_id)


# --- the words (pure) ----------------------------------------------------------------------------


def test_every_code_the_service_writes_has_a_dutch_word():
    assert [word(ACTIONS, a) for a in ("create", "update", "delete")] == ["toegevoegd", "gewijzigd", "verwijderd"]
    assert [word(ROLES, r) for r in ("school_admin", "lop_expert", "operator")] == [
        "schoolbeheerder", "LOP-deskundige", "beheerder"]
    assert [word(SOURCES, s) for s in ("import", "ov-sync", "rollover")] == [
        "import", "Onderwijs Vlaanderen-sync", "overgang schooljaar"]
    assert word(ENTITIES, "offering") == "aanbod" and word(ACTIONS, "nieuwe_actie") == "nieuwe_actie"
    from jobs.registry import all_jobs
    from wp_bridge.audit import SOURCES as CODES
    assert set(CODES) | set(all_jobs()) <= set(SOURCES)


def test_readable_values():
    tz = BRUSSELS
    assert readable("free_registration_start.BaO", "2027-03-01T08:00:00+00:00", tz) == "01/03/2027 09:00"
    assert readable("free_registration_start.BaO", "2027-07-01T07:00:00+00:00", tz) == "01/07/2027 09:00"  # summer
    assert readable("suffix", "[1]", tz) == "[1]" and readable("extra_info", '{"a": 1}', tz) == '{"a": 1}'  # as typed
    assert readable("automatic_rollover", "false", tz) == "nee"
    assert readable("dates", '[{"date": "2027-03-01", "label": "Infodag"}, {"date": "2027-04-02", "label": null}]',
                    tz) == "Infodag 01/03/2027, 02/04/2027"
    assert readable(None, '{"school_year": "2026-2027", "admgr_code": 10000}', tz) == (
        "schooljaar: 2026-2027; administratieve groep: 10000")
    assert readable(None, '{"user_id": 7, "email": "a@b.be", "account_created": true}', tz) == (
        "gebruiker-ID: 7; e-mailadres: a@b.be; nieuw account: ja")
    assert readable("capacity", None, tz) is None


@given(field=st.one_of(st.none(), st.sampled_from(["dates", "vestigingen", "rights.SO.current", "capacity",
                                                   "free_registration_start.SO", "automatic_rollover"])),
       value=st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                          lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                          max_leaves=8))
def test_readable_never_fails_and_never_shows_json(field, value):
    text = value if isinstance(value, str) else json.dumps(value)
    shown = readable(field, text, BRUSSELS)
    assert shown is None or isinstance(shown, str)
    if field is None and isinstance(value, dict) and value:
        assert shown != text  # the record as words ("capaciteit: 24; …"), never the stored JSON itself


def test_log_entries_carry_the_dutch_words_of_the_downloads(client, world, users):
    offering_id = world.offerings[(world.so_school, world.current, 56201)]
    path = f"/api/v1/sites/3/schools/{world.so_school}/offerings/{offering_id}"
    assert client.patch(path, user=users.expert3, json={"indicator_pct": 12.5}).status_code == 200
    update = entries(client, users.expert3)[0]
    assert update["text"] == {"role": "LOP-deskundige", "source": "website", "entity": "aanbod", "action": "gewijzigd",
                              "field": "percentage indicatorleerlingen", "old_value": update["text"]["old_value"],
                              "new_value": "12,50"}
    assert update["action"] == "update"  # the codes stay
