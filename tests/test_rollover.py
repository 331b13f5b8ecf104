"""The 1 July snapshot, the 1 August rollover and the stale-reference report (issue 8)."""

from __future__ import annotations

import datetime as dt
import json
import unicodedata
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from sqlalchemy import select

from jobs.runner import run_now
from rules.rollover import decide, review_reasons, stale_mentions
from rules.school_year import next_school_year
from service.demo import CATALOGUE
from wp_bridge.db import utcnow
from wp_bridge.options import get_option, set_option
from wp_bridge.tables import core_site_tables, network_tables, site_tables

BRUSSELS = ZoneInfo("Europe/Brussels")
SITE = 3


# --- rules -----------------------------------------------------------------------------------------


def test_decisions():
    assert decide("2026-2027", "2026-2027", force=False).action == "up_to_date"
    assert decide("2026-2027", "2027-2028", force=False).steps == ("2027-2028",)
    behind = decide("2025-2026", "2027-2028", force=False)
    assert behind.action == "refused" and "2 years behind" in behind.reason and "--force" in behind.reason
    assert decide("2025-2026", "2027-2028", force=True).steps == ("2026-2027", "2027-2028")
    assert decide("2028-2029", "2027-2028", force=True).action == "refused"


def test_review_reasons_name_past_starts():
    now = dt.datetime(2027, 8, 1, 6, tzinfo=dt.timezone.utc)
    starts = {"SO": dt.datetime(2027, 3, 1, 8, tzinfo=dt.timezone.utc), "BaO": None,
              "1A/1B": dt.datetime(2028, 2, 1, 8, tzinfo=dt.timezone.utc)}
    reasons = review_reasons("2027-2028", starts, now, BRUSSELS)
    assert "2027-2028 is nu het lopende schooljaar" in reasons[0]
    assert reasons[1] == "De start van de vrije inschrijvingen ligt in het verleden voor: SO (01/03/2027 09:00)."


@pytest.mark.parametrize("text, labels", [
    ("Inschrijven voor 2026-2027 en 2027-2028", []),  # current and next: fine
    ("Vrije plaatsen 2025-2026 (archief)", ["2025-2026"]),
    ("Schooljaar 2024 - 2025 en 2023–2024", ["2024-2025", "2023-2024"]),
    ("het schooljaar 25-26 is voorbij", ["2025-2026"]),
    ("open op 12-13 maart", []),  # too long ago for the short form: a date, not a school year
    ("tel. 052-12 34 56, 2020-2022, 1999-2000", []),
])
def test_stale_mentions(text, labels):
    mentions = stale_mentions(text, "2026-2027")
    assert [m["label"] for m in mentions] == labels and {m["kind"] for m in mentions} <= {"older_year"}


@pytest.mark.parametrize("text, found", [
    # the seed: after moving to 2021-2022, pages still about "2020-2021 en 2021-2022" as current and next
    ("Vrije plaatsen 2020-2021 en volgend schooljaar 2021-2022",
     [("older_year", "2020-2021"), ("current_year_called_next", "2021-2022")]),
    ("Inschrijvingen voor het KOMEND SCHOOLJAAR (21-22) zijn open", [("current_year_called_next", "2021-2022")]),
    ("2021 - 2022: aanmelden voor volgend jaar kan nu", [("current_year_called_next", "2021-2022")]),
    ("Vólgend schooljaar: 2021-2022", [("current_year_called_next", "2021-2022")]),  # accents do not hide it
    ("Schooljaar 2021-2022 en volgend schooljaar 2022-2023", []),  # right as it is: the phrase is 2022-2023's
    ("2021-2022 (dit jaar), 2022-2023 (volgend schooljaar)", []),
    ("Het volgend schooljaar 2021-2022 en daarna 2022-2023", [("current_year_called_next", "2021-2022")]),
    ("Dit schooljaar 2021-2022 loopt. " + "Lees de regels van de inschrijvingen. " + "Volgend schooljaar", []),  # far
    ("volgende schooljaar 2021-2022", []),  # not one of the phrases
    ("Inschrijven voor volgend schooljaar: 20-21 of 21-22",  # every current-year mention near a wrong phrase
     [("older_year", "2020-2021"), ("current_year_called_next", "2021-2022")]),
    ("Aanmelden volgend schooljaar 2020-2021 en 2021-2022",
     [("older_year", "2020-2021"), ("current_year_called_next", "2021-2022")]),
    ("2021-2022 is volgend schooljaar", [("current_year_called_next", "2021-2022")]),
])
def test_the_current_year_called_next(text, found):
    assert [(m["kind"], m["label"]) for m in stale_mentions(text, "2021-2022")] == found


_GAP = st.text(alphabet=" .,;:()!?", max_size=60)
_PHRASES = ("volgend schooljaar", "volgend jaar", "komend schooljaar")


@st.composite
def spelled(draw, phrase):
    """``phrase`` in any case, with or without accents on its vowels, words split by any white space."""
    out = []
    for char in phrase:
        if char == " ":
            out.append(draw(st.sampled_from([" ", "  ", "\u00a0", "\n"])))
        else:
            accents = ["", "\u0301", "\u0308"] if char in "aeou" else [""]
            out.append(unicodedata.normalize("NFC", draw(st.sampled_from([char, char.upper()])) + draw(st.sampled_from(accents))))
    return "".join(out)


@given(data=st.data(), year=st.integers(2001, 2090), gap=_GAP, before=st.booleans())
def test_the_current_year_is_flagged_within_40_characters_of_a_next_year_phrase(data, year, gap, before):
    label = f"{year}-{year + 1}"
    phrase = data.draw(spelled(data.draw(st.sampled_from(_PHRASES))))
    text = f"{phrase}{gap}{label}" if before else f"{label}{gap}{phrase}"
    kinds = [m["kind"] for m in stale_mentions(text, label)]
    assert kinds == (["current_year_called_next"] if len(gap) <= 40 else [])


@given(year=st.integers(2001, 2090), other=st.integers(2000, 2099), gap=_GAP, phrase=st.sampled_from(_PHRASES))
def test_other_years_do_not_depend_on_the_phrase(year, other, gap, phrase):
    assume(other != year)
    label, mention = f"{year}-{year + 1}", f"{other}-{other + 1}"
    for text in (f"{phrase}{gap}{mention}", f"Schooljaar {mention}{gap}"):
        found = [(m["kind"], m["label"]) for m in stale_mentions(text, label)]
        assert found == ([("older_year", mention)] if other < year else [])


@given(year=st.integers(2001, 2090), text=st.text(alphabet="abcdefghijklmnoprstuvwxyz .,-", max_size=120))
def test_without_a_phrase_the_current_year_is_never_flagged(year, text):
    label = f"{year}-{year + 1}"
    assert stale_mentions(f"{text} {label} {text}", label) == [] or "jaar" in text


# --- the jobs on both backends --------------------------------------------------------------------


@pytest.fixture
def world(rt, users, client):
    """Site 3 with two schools, offerings in the current and next year, and rights settings."""
    now = utcnow()
    t = site_tables(rt.network.prefix(SITE))
    with rt.engine.begin() as conn:
        conn.execute(network_tables("wp_").admgr.insert(), [
            {"code": c, "description": d, "onderwijsniveau": n, "onderwijsvorm": v, "graad": g, "leerjaar": lj,
             "active": True, "updated_at": now} for c, d, n, v, g, lj in CATALOGUE])
        set_option(conn, rt.network.prefix(SITE), "lop_sidecar_current_school_year", "2026-2027")
    schools = []
    for name, number in (("Sint-Jan", 1001), ("Atheneum", 1002)):
        response = client.post(f"/api/v1/sites/{SITE}/schools", user=users.operator, json={
            "name": name, "type": "SO", "vestigingen": [{"instellingsnummer": number, "vestigingsnummer": 1}]})
        schools.append(response.json["id"])
    rows = []
    for school in schools:
        for year, free in (("2026-2027", 3), ("2027-2028", 9)):
            for code in (55001, 56201):
                rows.append({"school_id": school, "school_year": year, "admgr_code": code, "capacity": 28,
                             "free_places": free, "enrolled": 28 - free, "indicator_pct": 22.5, "suffix": "(Noord)",
                             "extra_info": f"Info {year}", "dates": json.dumps([{"date": "2027-03-01", "label": None}]),
                             "version": 4, "created_at": now, "updated_at": now})
    with rt.engine.begin() as conn:
        conn.execute(t.offerings.insert(), rows)
    document = {"free_registration_start": {t_: None for t_ in ("BaO", "BuBaO", "SO", "BuSO", "1A/1B")},
                "rights": {t_: {"current": [], "next_before": [], "next_after": []}
                           for t_ in ("BaO", "BuBaO", "SO", "BuSO", "1A/1B")}}
    document["free_registration_start"]["SO"] = "2027-03-01T09:00"
    client.request("PUT", f"/api/v1/sites/{SITE}/settings", user=users.expert3, json=document)
    return {"schools": schools, "tables": t}


def dump(rt) -> dict:
    """Every row the rollover may touch, byte for byte."""
    t = site_tables(rt.network.prefix(SITE))
    options = core_site_tables(rt.network.prefix(SITE)).options
    with rt.engine.connect() as conn:
        return {table.name: sorted(map(repr, conn.execute(select(table)).all()))
                for table in (t.offerings, t.free_places_snapshots, t.audit_log, options)}


def offerings(rt, year):
    o = site_tables(rt.network.prefix(SITE)).offerings
    with rt.engine.connect() as conn:
        return conn.execute(select(o).where(o.c.school_year == year).order_by(o.c.school_id, o.c.admgr_code)).all()


def rollover(rt, date="2027-08-01", **options):
    """The rollover as on ``date`` (--date), ahead of the real switch day: --early, as an operator would."""
    dry_run = options.pop("dry_run", False)
    return run_now(rt, "rollover", site_id=SITE, trigger="cli", dry_run=dry_run,
                   options={"date": date, "early": True, **options})


def test_rollover_moves_next_to_current_and_clears_the_new_next(rt, users, world, client):
    before_next = offerings(rt, "2027-2028")
    run = rollover(rt)
    assert run["status"] == "succeeded", run["error"]
    assert run["summary"].startswith("rolled over 2026-2027 → 2027-2028: 2 schools, 4 programmes now current, "
                                     "copied to 2028-2029")
    with rt.engine.connect() as conn:
        assert get_option(conn, rt.network.prefix(SITE), "lop_sidecar_current_school_year") == "2027-2028"
    assert offerings(rt, "2026-2027") == []
    assert offerings(rt, "2027-2028") == before_next  # the same rows, ids, numbers and versions
    new_next = offerings(rt, "2028-2029")
    assert len(new_next) == 4
    for row in new_next:
        assert (row.capacity, float(row.indicator_pct), row.suffix) == (28, 22.5, "(Noord)")
        assert (row.free_places, row.enrolled, row.extra_info, row.dates, row.version) == (None, None, None, None, 1)
    s = world["tables"].free_places_snapshots
    with rt.engine.connect() as conn:
        stored = conn.execute(select(s).order_by(s.c.school_id, s.c.admgr_code)).all()
    assert [(r.school_year, r.free_places, r.programme) for r in stored][:2] == [
        ("2026-2027", 3, "1ste leerjaar A"), ("2026-2027", 3, "Natuurwetenschappen")]
    assert json.loads(stored[0].vestigingen) == [[1001, 1]]
    settings = client.get(f"/api/v1/sites/{SITE}/settings", user=users.expert3).json
    assert settings["settings_review_required"] is True
    assert any("SO (01/03/2027 09:00)" in reason for reason in settings["review_reasons"])
    log = [r for r in client_log(rt) if r.source == "rollover"]
    assert [(r.entity, r.action) for r in log] == [("site", "rollover"), ("school", "rollover"), ("school", "rollover")]
    assert json.loads(log[1].new_value)["moved"] == 2
    # the API shows the new years at once
    current = client.get(f"/api/v1/sites/{SITE}/schools/{world['schools'][0]}/offerings", user=users.expert3).json
    assert current["school_year"] == "2027-2028" and current["offerings"][0]["free_places"] == 9


def client_log(rt):
    log = site_tables(rt.network.prefix(SITE)).audit_log
    with rt.engine.connect() as conn:
        return conn.execute(select(log).order_by(log.c.id)).all()


def test_a_second_run_changes_nothing(rt, users, world):
    rollover(rt)
    before = dump(rt)
    again = rollover(rt)
    assert (again["status"], again["summary"]) == ("succeeded", "already rolled over to 2027-2028")
    assert dump(rt) == before


def test_before_the_switch_day_nothing_happens(rt, users, world):
    before = dump(rt)
    assert rollover(rt, date="2027-07-31")["summary"] == "already rolled over to 2026-2027"
    assert dump(rt) == before


def test_two_years_behind_needs_force_and_rolls_one_year_at_a_time(rt, users, world):
    before = dump(rt)
    refused = rollover(rt, date="2028-08-01")
    assert refused["status"] == "failed" and "2 years behind" in refused["error"]
    assert dump(rt) == before
    forced = rollover(rt, date="2028-08-01", force=True)
    assert forced["status"] == "succeeded", forced["error"]
    assert [(r["from"], r["to"]) for r in forced["stats"]["rolled"]] == [("2026-2027", "2027-2028"), ("2027-2028", "2028-2029")]
    assert len(offerings(rt, "2028-2029")) == 4 and len(offerings(rt, "2029-2030")) == 4
    assert offerings(rt, "2027-2028") == []


def test_dry_run_reports_per_school_and_writes_nothing(rt, users, world):
    before = dump(rt)
    run = rollover(rt, dry_run=True)
    assert run["summary"].startswith("dry run: would roll over 2026-2027 → 2027-2028 (1 year(s)): 2 schools, 4 programmes")
    plan = run["stats"]["per_school"]
    assert plan[str(world["schools"][0])]["cleared"] == ["free_places", "enrolled", "extra_info", "dates"]
    assert run["stats"]["snapshot_needed"] is True
    assert dump(rt) == before


@pytest.mark.parametrize("failing", ["wp_bridge.rollover.write_audit", "jobs.rollover.request_review",
                                     "wp_bridge.rollover.set_option"])
def test_a_failure_midway_leaves_the_site_exactly_as_before(rt, users, world, monkeypatch, failing):
    before = dump(rt)
    with monkeypatch.context() as patch:
        def boom(*_args, **_kwargs):
            raise RuntimeError("power cut")

        patch.setattr(failing, boom)
        run = rollover(rt)
    assert (run["status"], run["error"]) == ("failed", "RuntimeError: power cut")
    assert dump(rt) == before  # nothing half-applied, not even the snapshot
    assert rollover(rt)["status"] == "succeeded"
    assert len(offerings(rt, "2028-2029")) == 4


def test_automatic_rollover_can_be_switched_off(rt, users, world, client):
    settings = client.get(f"/api/v1/sites/{SITE}/settings", user=users.expert3).json
    assert settings["automatic_rollover"] is True
    document = {k: settings[k] for k in ("free_registration_start", "rights")}
    response = client.request("PUT", f"/api/v1/sites/{SITE}/settings", user=users.expert3,
                              json={**document, "automatic_rollover": False})
    assert response.status_code == 200 and response.json["automatic_rollover"] is False
    from jobs.runner import create_run, execute_run

    run_id = create_run(rt, "rollover", site_id=SITE, trigger="schedule", options={"date": "2027-08-01", "early": True})
    assert execute_run(rt, run_id)["summary"] == "automatic rollover is off for this site: still 2026-2027"
    assert rollover(rt)["status"] == "succeeded"  # a manual run still rolls


def test_snapshot_job_is_idempotent_per_date(rt, users, world):
    day = rt.today()  # by hand: the day it is taken
    first = run_now(rt, "free-places-snapshot", site_id=SITE, trigger="cli")
    assert first["summary"] == f"snapshot of {day} stored: 4 programmes of 2026-2027"
    assert first["stats"]["kind"] == "manual"
    again = run_now(rt, "free-places-snapshot", site_id=SITE, trigger="cli")
    assert again["summary"] == f"a snapshot of {day} exists already: nothing replaced"
    # a date of another day only in a dry run: a snapshot never claims a day it was not taken on
    dry = run_now(rt, "free-places-snapshot", site_id=SITE, trigger="cli", dry_run=True,
                  options={"date": (day - dt.timedelta(days=1)).isoformat()})
    assert dry["status"] == "succeeded" and dry["summary"].startswith("dry run: would store 4 programmes")
    # the rollover finds the outgoing year's snapshot and takes none of its own
    rollover(rt)
    s = world["tables"].free_places_snapshots
    with rt.engine.connect() as conn:
        assert {(r.snapshot_date, r.kind) for r in conn.execute(select(s))} == {(day, "manual")}


def test_the_rollover_snapshot_carries_the_day_it_is_taken_and_its_kind(rt, users, world, client):
    run = rollover(rt, date="2027-08-01")  # tried as on 1 August, run today
    assert run["status"] == "succeeded" and run["stats"]["rolled"][0]["snapshot_rows"] == 4
    listed = client.get(f"/api/v1/sites/{SITE}/exports/snapshots", user=users.expert3).json["snapshots"]
    assert listed == [{"date": rt.today().isoformat(), "school_year": "2026-2027", "kind": "rollover", "rows": 4}]


def test_a_scheduled_snapshot_is_dated_on_its_occurrence(rt, users, world):
    from jobs.runner import create_run, execute_run

    today = rt.today()
    occurrence = dt.datetime(today.year, 7, 1, 0, 5, tzinfo=BRUSSELS)
    if occurrence.date() > today:
        occurrence = occurrence.replace(year=today.year - 1)
    run_id = create_run(rt, "free-places-snapshot", site_id=SITE, trigger="schedule",
                        options={"scheduled_for": occurrence.isoformat()})
    run = execute_run(rt, run_id)
    assert run["stats"] == {"rows": 4, "date": occurrence.date().isoformat(), "school_year": "2026-2027", "kind": "1_july"}


def test_a_snapshot_scheduled_on_another_day_is_not_called_1_july(rt, users, world):
    """An operator may move the schedule: the snapshot keeps its scheduled day but is not the seed's 1 July one."""
    from jobs.runner import create_run, execute_run

    occurrence = dt.datetime.combine(rt.today() - dt.timedelta(days=1), dt.time(0, 5), BRUSSELS)
    if (occurrence.month, occurrence.day) == (7, 1):
        occurrence -= dt.timedelta(days=1)
    run_id = create_run(rt, "free-places-snapshot", site_id=SITE, trigger="schedule",
                        options={"scheduled_for": occurrence.isoformat()})
    run = execute_run(rt, run_id)
    assert run["status"] == "succeeded", (run.get("error"), run.get("summary"))
    assert (run["stats"]["date"], run["stats"]["kind"]) == (occurrence.date().isoformat(), "manual")


def test_stale_references_report(rt, users, world, client):
    posts = core_site_tables(rt.network.prefix(SITE)).posts
    base = {"post_content_filtered": "", "post_excerpt": "", "to_ping": "", "pinged": "", "post_type": "page"}
    with rt.engine.begin() as conn:
        conn.execute(posts.insert(), [
            {**base, "ID": 10, "post_title": "Vrije plaatsen 2025-2026", "post_status": "publish",
             "post_content": "<p>Inschrijven voor <strong>2026-2027</strong>; archief: schooljaar 24-25.</p>"},
            {**base, "ID": 11, "post_title": "Concept 2020-2021", "post_status": "draft", "post_content": "x"},
            {**base, "ID": 12, "post_title": "Alles actueel", "post_status": "publish",
             "post_content": "Dit schooljaar 2026-2027, volgend schooljaar 2027-2028"},
            {**base, "ID": 13, "post_title": "Aanmelden", "post_status": "publish",
             "post_content": "<p>Aanmelden voor het <em>Volgend&nbsp;Schooljaar</em> (2026-2027) kan vanaf maart.</p>"},
        ])
    report = client.get(f"/api/v1/sites/{SITE}/rollover/stale-references", user=users.expert3).json
    assert report["school_year"] == "2026-2027"
    assert [p["id"] for p in report["posts"]] == [10, 13]
    post = report["posts"][0]
    assert {m["kind"] for m in post["matches"]} == {"older_year"}
    called_next = report["posts"][1]["matches"]
    assert [(m["kind"], m["label"], m["in"]) for m in called_next] == [("current_year_called_next", "2026-2027", "content")]
    assert called_next[0]["context"] == "Aanmelden voor het Volgend Schooljaar (2026-2027) kan vanaf maart."
    assert post["edit_link"] == "http://lop.test/so/wp-admin/post.php?post=10&action=edit"
    assert [(m["in"], m["label"]) for m in post["matches"]] == [("title", "2025-2026"), ("content", "2024-2025")]
    assert "archief: schooljaar 24-25" in post["matches"][1]["context"]
    assert client.get(f"/api/v1/sites/{SITE}/rollover/stale-references", user=users.admin2).status_code == 403


def test_next_school_year_label_helper():
    assert next_school_year("2027-2028") == "2028-2029"
