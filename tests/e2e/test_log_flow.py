"""Flow 5 (issue 15): Extra > Logbestand — the changes newest first with the people's names; "Download log" opens
as CSV and as Excel."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import datetime

from openpyxl import load_workbook

from .helpers import login, screenshot, site_url

LOG = site_url("wp-admin/admin.php?page=lop-log", site=3)


def test_log_newest_first_with_names_and_downloads(page, platform, tmp_path):
    schools = platform.call("GET", "/api/v1/sites/3/schools", user="bert.deskundige").json()["schools"]
    emails = [f"log.{uuid.uuid4().hex[:6]}.{n}@example.org" for n in range(2)]
    for email in emails:  # two changes by the LOP expert, the second newest
        response = platform.call("POST", f"/api/v1/sites/3/schools/{schools[0]['id']}/admins",
                                 user="bert.deskundige", json_body={"email": email})
        assert response.status_code == 201, response.text

    login(page, "bert.deskundige")
    page.goto(LOG)
    rows = page.locator("table.lop-log tbody tr")
    first, second = rows.nth(0).inner_text(), rows.nth(1).inner_text()
    assert emails[1] in first and emails[0] in second, (first, second)
    for text in (first, second):
        assert "Bert Deskundige" in text and "toegevoegd" in text and schools[0]["name"] in text
    times = [datetime.strptime(rows.nth(n).locator("td").first.inner_text().strip(), "%d/%m/%Y %H:%M:%S")
             for n in range(rows.count())]
    assert times == sorted(times, reverse=True)
    screenshot(page, "log-page")

    with page.expect_download() as csv_download:
        page.locator(".lop-log-downloads a[data-format=csv]").click()
    assert csv_download.value.suggested_filename.endswith(".csv")
    path = tmp_path / "log.csv"
    csv_download.value.save_as(path)
    table = list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig")), delimiter=";"))
    assert table[0][:3] == ["Tijdstip", "Gebruiker", "Naam"]
    assert emails[1] in ";".join(table[1]) and "Bert Deskundige" in table[1]

    with page.expect_download() as xlsx_download:
        page.locator(".lop-log-downloads a[data-format=xlsx]").click()
    assert xlsx_download.value.suggested_filename.endswith(".xlsx")
    path = tmp_path / "log.xlsx"
    xlsx_download.value.save_as(path)
    rows = list(load_workbook(path, read_only=True).worksheets[0].iter_rows(values_only=True))
    header = next(n for n, row in enumerate(rows) if row and row[0] == "Tijdstip")
    assert "Logbestand" in str(rows[0][0])
    newest = rows[header + 1]
    assert isinstance(newest[0], datetime) and "Bert Deskundige" in newest and emails[1] in " ".join(map(str, newest))

    page.locator("select[name=log_action]").select_option("add")
    with page.expect_navigation():
        page.get_by_role("button", name="Filteren").click()
    assert emails[1] in page.locator("table.lop-log tbody tr").first.inner_text()
    screenshot(page, "log-filtered")
