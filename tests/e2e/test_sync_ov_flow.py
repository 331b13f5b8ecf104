"""Flow 4 (issue 15, "Tests in CI"): as the operator, Extra > Synchronisaties > "Nu synchroniseren" on the OV sync
against a local fake Onderwijs Vlaanderen API → the progress bar completes with the summary line; as the LOP
expert, Extra > Onderwijs Vlaanderen shows green and red rows → "Toepassen" on one school (confirming the removal
of an offering that still has numbers) → that school matches OV; the Excel download is the sidecar's workbook.

The sidecar reads LOP_OV_API_URL/LOP_OV_API_KEY when wp-plugin/dev/up.sh starts it (up.sh passes LOP_* variables
through), so the fake OV server starts when this module is imported, before the session's platform comes up. Its
records are set by the test from the site's own data (the demo's schools and offerings)."""

from __future__ import annotations

import io
import os

import pytest
from openpyxl import load_workbook

from .fake_ov import FakeOv, catalogue_entry, offering
from .helpers import ARTIFACTS, login, screenshot, site_url

SITE = 3  # LOP Scheldeland Secundair Onderwijs (SO)

if "LOP_OV_API_URL" not in os.environ:  # the platform of this run has not been started yet: point it here
    FAKE_OV: FakeOv | None = FakeOv.start()
    os.environ["LOP_OV_API_URL"] = FAKE_OV.url
    os.environ["LOP_OV_API_KEY"] = FAKE_OV.key
else:
    FAKE_OV = None


def element_shot(locator, name: str) -> None:
    """A PNG of one part of the page (a school's table), readable where the whole page is too long."""
    locator.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def screen(page: str) -> str:
    return site_url(f"wp-admin/admin.php?page={page}", site=SITE)


@pytest.fixture
def ov_feed(platform):
    """OV's feed made from the site's current offering: every school as it is on the site, except the first SO
    school, which gets one programme OV lists and the site lacks (green), and one of its programmes removed from the
    whole feed (red, "bestaat volgens Onderwijs Vlaanderen niet meer")."""
    if FAKE_OV is None:
        pytest.fail("LOP_OV_API_URL was set before this test module was imported: the sidecar is not pointed at the "
                    "fake OV server", pytrace=False)
    label = next(s for s in platform.call("GET", "/api/v1/sites").json()["sites"] if s["id"] == SITE)["current_school_year"]
    schooljaar = int(label[:4])
    table = platform.call("GET", f"/api/v1/sites/{SITE}/free-places?year=current").json()
    schools = [s for s in table["schools"] if s["type"] == "SO" and s["columns"] and s["vestigingen"]]
    target = schools[0]
    target_codes = [c["admgr_code"] for c in target["columns"]]
    others = {c["admgr_code"] for s in table["schools"] if s is not target for c in s["columns"]}
    green = next(code for code in sorted(others) if code not in target_codes)
    red = target_codes[-1]
    records = []
    for school in table["schools"]:
        first = school["vestigingen"][0] if school["vestigingen"] else None
        if first is None:
            continue
        for column in school["columns"]:
            if column["admgr_code"] != red:
                records.append(offering(first["instellingsnummer"], first["vestigingsnummer"], column["admgr_code"],
                                        schooljaar, table["programmes"].get(str(column["admgr_code"]), {}).get("name", "")))
    location = target["vestigingen"][-1]
    records.append(offering(location["instellingsnummer"], location["vestigingsnummer"], green, schooljaar,
                            table["programmes"].get(str(green), {}).get("name", "")))
    catalogue = []
    for code in sorted({r["administratievegroep_code"] for r in records}):
        p = table["programmes"].get(str(code), {})
        catalogue.append(catalogue_entry(code, p.get("graad"), p.get("leerjaar"), p.get("onderwijsvorm"), schooljaar))
    FAKE_OV.offerings, FAKE_OV.catalogue = records, catalogue
    return {"school": target, "green": green, "red": red, "label": label}


def test_operator_syncs_ov_and_the_expert_applies_one_school(platform, browser, page, ov_feed):
    school_id = ov_feed["school"]["id"]

    # --- the LOP expert before any sync: the comparison says there is no data (never "no differences") -----------
    expert_context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="nl-BE")
    expert_context.set_default_timeout(20_000)
    expert = expert_context.new_page()
    login(expert, "bert.deskundige")
    expert.goto(screen("lop-ov"))
    expert.locator(".lop-ov-status").wait_for()
    before = platform.call("GET", f"/api/v1/sites/{SITE}/ov-comparison?year=current", user="bert.deskundige").json()
    if before["state"] == "no_snapshot":
        assert "Er werden nog geen gegevens van Onderwijs Vlaanderen opgehaald." in expert.inner_text(".wrap")
        assert expert.locator(".lop-ov-school").count() == 0
        screenshot(expert, "ov-expert-no-data")

    # --- the operator: Synchronisaties > Nu synchroniseren on ov-sync → progress → summary -----------------------
    login(page, "operator", site=SITE)
    page.goto(screen("lop-synchronisaties"))
    row = page.locator('tr.lop-job[data-job="ov-sync"]')
    row.wait_for()
    screenshot(page, "jobs-operator")
    with page.expect_navigation():
        row.get_by_role("button", name="Nu synchroniseren").click()
    started = page.locator(".lop-run-started .lop-run")
    started.wait_for()
    assert "gestart" in page.locator(".notice-success").inner_text()
    screenshot(page, "jobs-operator-ov-sync-started")
    page.locator('.lop-run-started .lop-run[data-finished="1"]').wait_for(timeout=90_000)
    status = started.locator(".lop-run-status").inner_text()
    summary = started.locator(".lop-run-summary").inner_text()
    assert status.startswith("Gelukt"), (status, summary)
    assert f"site {SITE}:" in summary and "records" in summary, summary
    assert started.locator(".lop-run-bar").evaluate("bar => bar.value === bar.max")
    assert FAKE_OV.requests and all(r["key"] == FAKE_OV.key for r in FAKE_OV.requests)
    screenshot(page, "jobs-operator-ov-sync-done")

    # --- the LOP expert: green and red rows, the snapshot's date and the last sync -------------------------------
    expert.goto(screen("lop-ov"))
    section = expert.locator(f"#school-{school_id}")
    section.wait_for()
    green_row = section.locator(f'tr.lop-ov-only_ov[data-code="{ov_feed["green"]}"]')
    red_row = section.locator(f'tr.lop-ov-only_lop[data-code="{ov_feed["red"]}"]')
    assert green_row.locator("td.lop-green").count() == 2
    assert red_row.locator("td.lop-red").count() == 2
    assert "bestaat volgens Onderwijs Vlaanderen niet meer" in red_row.inner_text()
    status_text = expert.locator(".lop-ov-status").inner_text()
    assert "gelukt" in status_text and "nog niet opgehaald" not in status_text, status_text
    screenshot(expert, "ov-expert-comparison")
    screenshot(expert, "ov-expert-comparison-top", full_page=False)
    element_shot(section, "ov-expert-comparison-school")

    expert.locator("input[name=only_differences]").check()
    with expert.expect_navigation():
        expert.get_by_role("button", name="Tonen").click()
    assert expert.locator(f"#school-{school_id} tr.lop-ov-both").count() == 0
    assert expert.locator(f"#school-{school_id} tr.lop-ov-only_ov").count() == 1
    screenshot(expert, "ov-expert-only-differences")

    # --- the Excel download is the sidecar's workbook -------------------------------------------------------------
    with expert.expect_download() as download_info:
        expert.get_by_role("link", name="Download als Excel").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".xlsx"), download.suggested_filename
    workbook = load_workbook(io.BytesIO(open(download.path(), "rb").read()), read_only=True)
    assert workbook.sheetnames[0] == "Overzicht"

    # --- Toepassen on that school: the demo's red offering has numbers → confirm → the school matches OV ---------
    section = expert.locator(f"#school-{school_id}")
    with expert.expect_navigation():
        section.get_by_role("button", name="Toepassen").click()
    confirm = expert.locator("#lop-ov-confirm")
    if confirm.count():
        assert str(ov_feed["red"]) in confirm.inner_text()
        screenshot(expert, "ov-expert-confirm-numbers", full_page=False)
        with expert.expect_navigation():
            confirm.get_by_role("button", name="Toch toepassen: ook deze cijfers verwijderen").click()
    notice = expert.locator(".notice-success")
    notice.wait_for()
    assert "1 toegevoegd, 1 verwijderd" in notice.inner_text(), notice.inner_text()
    assert "enkel bij Onderwijs Vlaanderen: 0, enkel op de LOP-website: 0" in notice.inner_text()
    section = expert.locator(f"#school-{school_id}")
    assert section.locator("td.lop-green, td.lop-red").count() == 0
    assert "(groen): 0 · enkel op de LOP-website (rood): 0" in section.locator(".lop-ov-counts").inner_text()
    screenshot(expert, "ov-expert-applied", full_page=False)
    element_shot(section, "ov-expert-applied-school")
    after = platform.call("GET", f"/api/v1/sites/{SITE}/ov-comparison?year=current&school={school_id}",
                          user="bert.deskundige").json()["schools"][0]
    assert (after["counts"]["only_ov"], after["counts"]["only_lop"]) == (0, 0), after["counts"]
    expert.goto(screen("lop-synchronisaties"))
    expert.locator("table.lop-jobs").first.wait_for()
    assert expert.locator('tr.lop-job[data-job="ov-sync"] button').count() == 0  # "Nu synchroniseren": operators only
    screenshot(expert, "jobs-expert")
    expert_context.close()
