"""The AgODi administrative-groups file: parser (pure), sync job and catalogue API (issue 6)."""

from __future__ import annotations

import io
import itertools
import zipfile
from dataclasses import replace

import pytest
import responses
from sqlalchemy import select

from jobs import agodi as agodi_job
from jobs.runner import run_now
from rules.agodi import (
    AgodiFileError,
    CatalogueDiff,
    diff_catalogue,
    parse,
    summary_line,
)
from service.runtime import Runtime

HEADER = ["Administratieve groep", "Omschrijving", "Onderwijsniveau", "Onderwijsvorm", "Graad", "Leerjaar",
          "Structuuronderdeel", "Begindatum", "Einddatum"]
ROWS = [
    ["55001", "1ste leerjaar A", "SO", "GSO", "1", "1", "A1", "2019-09-01", ""],
    ["55002", "1ste leerjaar B", "SO", "GSO", "1", "1", "B1", "2019-09-01", ""],
    ["56201", "Natuurwetenschappen; doorstroom", "SO", "ASO", "2", "3", "", "2021-09-01", ""],
    ["57302", "Verpleegkunde (HBO5)", "SO", "HBO", "3", "7", "", "01/09/2019", "31/08/2030"],
    ["10000", "Anderstalige nieuwkomers – onthaalklas", "BaO", "", "", "", "", "", ""],
]


def make_file(header=HEADER, rows=ROWS, *, delimiter="\t", encoding="utf-8", newline="\r\n", bom=False,
              trailing_blank=True) -> bytes:
    out = io.StringIO()
    for record in [header, *rows]:
        cells = [f'"{c}"' if delimiter in c or '"' in c else c for c in record]
        out.write(delimiter.join(cells) + newline)
    if trailing_blank:
        out.write(newline * 2)
    data = out.getvalue().encode(encoding)
    return (b"\xef\xbb\xbf" + data) if bom else data


# --- the parser ----------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding, bom, delimiter, newline", [
    (e, b, d, n) for (e, b), d, n in itertools.product(
        [("utf-8", False), ("utf-8", True), ("cp1252", False)], ["\t", ";", "|"], ["\r\n", "\n"])])
def test_every_encoding_and_delimiter(encoding, bom, delimiter, newline):
    parsed = parse(make_file(delimiter=delimiter, encoding=encoding, bom=bom, newline=newline))
    assert parsed.encoding == ("utf-8-sig" if bom else encoding)
    assert parsed.delimiter == delimiter
    assert sorted(parsed.rows) == [10000, 55001, 55002, 56201, 57302]
    assert parsed.rows[56201]["description"] == "Natuurwetenschappen; doorstroom"  # quoted delimiter inside
    assert parsed.rows[10000]["description"] == "Anderstalige nieuwkomers – onthaalklas"  # non-ASCII kept
    assert parsed.rows[57302]["end_date"].isoformat() == "2030-08-31"
    assert parsed.rows[55001]["graad"] == 1 and parsed.rows[10000]["graad"] is None
    assert parsed.present == ("code", "description", "onderwijsniveau", "onderwijsvorm", "graad", "leerjaar",
                              "structuuronderdeel", "begin_date", "end_date", "stage")


@pytest.mark.parametrize("header", [
    ["AG_CODE", "AG_OMSCHRIJVING"],
    ["admgr", "omschrijving"],
    ["Code administratieve groep", "Benaming"],
    ["ADMINISTRATIEVEGROEPNUMMER", "OMSCHRIJVING_AG"],
])
def test_header_spellings(header):
    parsed = parse(make_file(header=header, rows=[r[:2] for r in ROWS]))
    assert parsed.present == ("code", "description", "stage")
    assert parsed.rows[55002]["description"] == "1ste leerjaar B"


def test_extra_columns_are_ignored_and_reported():
    parsed = parse(make_file(header=["Code", "Omschrijving", "Financiering", "Opmerking"],
                             rows=[r[:2] + ["x", "y"] for r in ROWS]))
    assert parsed.ignored_columns == ["Financiering", "Opmerking"]


def test_a_zip_holding_the_ag_file():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("20190218 AG.txt", make_file())
        archive.writestr("20190218 AG_wijz.txt", make_file(rows=ROWS[:1]))
        archive.writestr("leesmij.pdf", b"%PDF")
    parsed = parse(buffer.getvalue())
    assert parsed.member == "20190218 AG.txt" and len(parsed.rows) == 5


@pytest.mark.parametrize("data, message", [
    (make_file(header=["Code", "Onderwijsvorm"], rows=[["1", "ASO"]]), "required column(s) missing: description"),
    (make_file(rows=ROWS + [ROWS[0]]), "code 55001 is also on line 2"),
    (make_file(rows=[ROWS[0][:7] + ["2019-02-30", ""]]), "begin_date '2019-02-30' is not a date"),
    (make_file(rows=[["A55", *ROWS[0][1:]]]), "code 'A55' is not a numeric code"),
    (make_file(rows=[ROWS[0][:4]]), "4 fields, the header has 9"),
    (make_file().decode().encode("utf-16"), "NUL bytes"),
    (b"", "empty"),
    (b"\n\n  \n", "empty"),
    (b"<!DOCTYPE html><html><head><title>Onderhoud</title></head><body>Even geduld</body></html>", "HTML page"),
    (b"code,omschrijving\n1,x\n", "delimiter"),
    (make_file(rows=[]), "no rows"),
    ("Code\tOmschrijving\r\n1\tgestoorde tekst \ufffd\r\n".encode(), "replacement characters"),
])
def test_refused_files_say_why(data, message):
    with pytest.raises(AgodiFileError) as error:
        parse(data)
    assert message in str(error.value)


def test_many_problems_are_listed_up_to_50_with_lines():
    rows = [[f"X{n}", "naam"] for n in range(80)]
    with pytest.raises(AgodiFileError) as error:
        parse(make_file(header=["Code", "Omschrijving"], rows=rows))
    assert len(error.value.problems) == 50
    assert error.value.problems[0] == "line 2: code 'X0' is not a numeric code"


def test_diff_counts_only_real_changes():
    parsed = parse(make_file())
    stored = {code: {**row, "active": True} for code, row in parse(make_file()).rows.items()}
    stored[55001]["description"] = "1A (oud)"
    stored[56201]["active"] = False
    stored[99999] = {"code": 99999, "description": "Verdwenen", "active": True}
    stored[88888] = {"code": 88888, "description": "Al weg", "active": False}
    del stored[55002]
    diff = diff_catalogue(stored, parsed)
    assert [r["code"] for r in diff.added] == [55002]
    assert sorted(r["code"] for r in diff.updated) == [55001, 56201]
    assert (diff.unchanged, diff.deactivated) == (2, [99999])
    assert (55001, "description", "1A (oud)", "1ste leerjaar A") in diff.changes
    assert (56201, "active", False, True) in diff.changes
    assert summary_line(5, diff) == "5 in file: 1 added, 2 updated, 2 unchanged, 1 no longer in file"
    assert summary_line(9630, CatalogueDiff(added=[{}] * 127, updated=[{}] * 1253, unchanged=8250, deactivated=[1, 2, 3])) == \
        "9630 in file: 127 added, 1253 updated, 8250 unchanged, 3 no longer in file"


# --- the job on both backends ------------------------------------------------------------------


def catalogue(rt):
    a = rt.network_tables.admgr
    with rt.engine.connect() as conn:
        return {row.code: row for row in conn.execute(select(a))}


def sync(rt, tmp_path, data: bytes, *, name="AG.txt", **options):
    path = tmp_path / name
    path.write_bytes(data)
    return run_now(rt, "agodi-sync", site_id=None, trigger="cli", options={"source": str(path), **options},
                   dry_run=options.pop("dry_run", False) if "dry_run" in options else False)


def test_first_sync_second_sync_and_changes(rt, users, tmp_path):
    first = sync(rt, tmp_path, make_file())
    assert first["status"] == "succeeded", first["error"]
    assert first["summary"] == "5 in file: 5 added, 0 updated, 0 unchanged, 0 no longer in file"
    stored = catalogue(rt)
    assert stored[56201].onderwijsvorm == "ASO" and stored[56201].graad == 2 and stored[56201].active
    assert stored[10000].search_text == "anderstalige nieuwkomers onthaalklas an"  # also found as "AN"
    stamp = stored[55001].updated_at

    second = sync(rt, tmp_path, make_file(delimiter=";", encoding="cp1252"))
    assert second["summary"] == "5 in file: 0 added, 0 updated, 5 unchanged, 0 no longer in file"
    assert catalogue(rt)[55001].updated_at == stamp  # unchanged rows are not touched

    changed_rows = [r[:] for r in ROWS if r[0] != "55002"] + [["58001", "OV4 - eerste leerjaar", "SO", "999", "", "1", "", "", ""]]
    changed_rows[0][1] = "Eerste leerjaar A"
    third = sync(rt, tmp_path, make_file(rows=changed_rows), force=True)
    assert third["summary"] == "5 in file: 1 added, 1 updated, 3 unchanged, 1 no longer in file"
    stored = catalogue(rt)
    assert stored[55001].description == "Eerste leerjaar A"
    assert not stored[55002].active and stored[55002].inactive_since is not None  # kept, not deleted
    assert stored[10000].active  # AN is the LOPs' own code: never deactivated
    assert [55001, "description", "1ste leerjaar A", "Eerste leerjaar A"] in third["stats"]["changes"]


def test_dry_run_reports_without_writing(rt, users, tmp_path):
    run = sync(rt, tmp_path, make_file(), dry_run=True)
    assert run["summary"] == "5 in file: 5 added, 0 updated, 0 unchanged, 0 no longer in file"
    assert run["dry_run"] and catalogue(rt) == {}


@pytest.mark.parametrize("data", [
    make_file(header=["Code", "Niveau"], rows=[["1", "SO"]]),
    make_file(rows=ROWS + [ROWS[1]]),
    make_file(rows=[ROWS[0][:7] + ["31/02/2020", ""]]),
    make_file().decode().encode("utf-16"),
    b"",
    b"<html><body>502 Bad Gateway</body></html>",
])
def test_a_refused_file_leaves_the_catalogue_untouched(rt, users, tmp_path, data):
    assert sync(rt, tmp_path, make_file())["status"] == "succeeded"
    before = {code: tuple(row) for code, row in catalogue(rt).items()}
    run = sync(rt, tmp_path, data)
    assert run["status"] == "failed" and run["error"].startswith("file refused")
    assert {code: tuple(row) for code, row in catalogue(rt).items()} == before


def test_the_shrink_guard(rt, users, tmp_path):
    many = [[str(60000 + n), f"Opleiding {n}", "SO", "ASO", "2", "3", "", "", ""] for n in range(100)]
    assert sync(rt, tmp_path, make_file(rows=many))["status"] == "succeeded"
    truncated = sync(rt, tmp_path, make_file(rows=many[:84]))
    assert truncated["status"] == "failed" and "fewer than 85% of the 100 active" in truncated["error"]
    assert sum(row.active for row in catalogue(rt).values()) == 101  # and AN
    forced = sync(rt, tmp_path, make_file(rows=many[:84]), force=True)
    assert forced["summary"] == "84 in file: 0 added, 0 updated, 84 unchanged, 16 no longer in file"


def test_no_source_configured(rt, users):
    run = run_now(rt, "agodi-sync", site_id=None, trigger="cli")
    assert (run["status"], run["error"]) == ("failed", "no source: set LOP_AGODI_URL or pass --source URL|PATH")


@responses.activate
def test_download_retries_5xx_then_succeeds(rt, users, monkeypatch):
    monkeypatch.setattr(agodi_job, "BACKOFF_SECONDS", 0.01)
    url = "https://www.agodi.be/sites/default/files/20190218%20AG.txt"
    responses.add(responses.GET, url, status=503)
    responses.add(responses.GET, url, status=500)
    responses.add(responses.GET, url, body=make_file(), status=200)
    runtime = Runtime(replace(rt.config, agodi_url=url), rt.engine, rt.network)
    run = run_now(runtime, "agodi-sync", site_id=None, trigger="cli")
    assert run["status"] == "succeeded", run["error"]
    assert len(responses.calls) == 3


@responses.activate
def test_download_gives_up_and_caps_the_size(rt, users, monkeypatch):
    monkeypatch.setattr(agodi_job, "BACKOFF_SECONDS", 0.01)
    url = "https://example.org/AG.txt"
    responses.add(responses.GET, url, status=502)
    runtime = Runtime(replace(rt.config, agodi_url=url), rt.engine, rt.network)
    run = run_now(runtime, "agodi-sync", site_id=None, trigger="cli")
    assert (run["status"], run["error"]) == ("failed", "the download failed 4 times (last: HTTP 502)")
    responses.replace(responses.GET, url, body=b"x", headers={"Content-Length": str(60 * 1024 * 1024)})
    assert "more than the" in run_now(runtime, "agodi-sync", site_id=None, trigger="cli")["error"]
    responses.replace(responses.GET, url, status=404)
    assert run_now(runtime, "agodi-sync", site_id=None, trigger="cli")["error"] == "the download answered HTTP 404"


def test_command_line_summary_and_exit_codes(rt, users, tmp_path, capsys, monkeypatch):
    from service.cli import main

    monkeypatch.setenv("LOP_DATABASE_URL", rt.config.database_url)
    good = tmp_path / "AG.txt"
    good.write_bytes(make_file())
    assert main(["jobs", "run", "agodi-sync", "--source", str(good)]) == 0
    assert capsys.readouterr().out.strip() == "5 in file: 5 added, 0 updated, 0 unchanged, 0 no longer in file"
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"<html></html>")
    assert main(["jobs", "run", "agodi-sync", "--source", str(bad)]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and "HTML page" in captured.err


# --- the catalogue API -------------------------------------------------------------------------


def test_catalogue_search(client, rt, users, tmp_path):
    sync(rt, tmp_path, make_file())
    get = client.get
    by_code = get("/api/v1/catalogue/admgr?q=5500", user=users.admin2).json["items"]
    assert [i["code"] for i in by_code] == [55001, 55002]
    words = get("/api/v1/catalogue/admgr?q=NATUUR%20doorstroom", user=users.expert2).json["items"]
    assert [i["code"] for i in words] == [56201]
    accents = get("/api/v1/catalogue/admgr?q=onthaalklas%20anderstalige", user=0).json["items"]
    assert [i["code"] for i in accents] == [10000]
    assert [i["code"] for i in get("/api/v1/catalogue/admgr?level=BaO", user=0).json["items"]] == [10000]
    assert len(get("/api/v1/catalogue/admgr?limit=2", user=0).json["items"]) == 2
    assert get("/api/v1/catalogue/admgr?limit=0", user=0).status_code == 422
    one = get("/api/v1/catalogue/admgr/57302", user=0).json
    assert one["description"] == "Verpleegkunde (HBO5)" and one["end_date"] == "2030-08-31" and one["active"]
    assert get("/api/v1/catalogue/admgr/4242", user=0).status_code == 404
    assert sync(rt, tmp_path, make_file(rows=ROWS[1:]), force=True)["status"] == "succeeded"  # 55001 gone
    assert get("/api/v1/catalogue/admgr?q=5500", user=0).json["items"][0]["code"] == 55002
    inactive = get("/api/v1/catalogue/admgr?q=5500&active=false", user=0).json["items"]
    assert [i["code"] for i in inactive] == [55001] and inactive[0]["active"] is False
