"""Flow 2 (issue 15): Extra > Import — the template downloaded and filled with openpyxl including one bad row;
the preview names that row; the fixed file applied; the new admins appear in School stats."""

from __future__ import annotations

import uuid

from openpyxl import load_workbook

from .helpers import login, screenshot, site_url

IMPORT = site_url("wp-admin/admin.php?page=lop-import", site=3)
STATS = site_url("wp-admin/admin.php?page=lop-extra", site=3)


def upload(page, path):
    page.locator("#lop-import-file").set_input_files(str(path))
    with page.expect_navigation():
        page.locator("#lop-import-upload button[type=submit]").click()


def test_template_bad_row_fixed_applied(page, tmp_path):
    login(page, "bert.deskundige")
    page.goto(IMPORT)
    screenshot(page, "import-start")
    with page.expect_download() as download:
        page.locator("#lop-import-template").click()
    template = tmp_path / "sjabloon.xlsx"
    download.value.save_as(template)

    workbook = load_workbook(template)
    schools = [row for row in workbook["Scholen"].iter_rows(min_row=2, values_only=True) if row[1]]
    sheet = workbook["Schoolbeheerders"]
    assert [c.value for c in sheet[1]][:3] == ["Instellingsnummer", "Schoolnaam", "E-mailadres"]
    tag = uuid.uuid4().hex[:6]
    emails = [f"import.{tag}.{n}@example.org" for n in range(3)]
    for n, (number, name, *_rest) in enumerate(schools[:3]):  # rows 2-4 (the template formats 5,000 rows)
        for column, value in enumerate([number.split(",")[0], name, emails[n]], start=1):
            sheet.cell(row=2 + n, column=column, value=value)
    sheet.cell(row=3, column=3, value="geen-e-mailadres")  # the bad row: row 3
    filled = tmp_path / "ingevuld.xlsx"
    workbook.save(filled)

    upload(page, filled)
    screenshot(page, "import-preview-errors")
    errors = page.locator("table.lop-import-errors tbody tr")
    assert errors.count() == 1
    assert errors.first.locator("td").first.inner_text().strip() == "3"
    assert "niets toegevoegd" in page.locator(".notice-error").inner_text()
    screenshot(page, "import-preview-errors")
    with page.expect_download() as annotated:
        page.get_by_role("link", name="Bestand met de fouten aangeduid downloaden (Excel)").click()
    report = tmp_path / "fouten.xlsx"
    annotated.value.save_as(report)
    statuses = [row[-1] for row in load_workbook(report)["Schoolbeheerders"].iter_rows(min_row=2, values_only=True)]
    assert statuses[1].startswith("FOUT"), statuses

    sheet.cell(row=3, column=3, value=emails[1])
    workbook.save(filled)
    upload(page, filled)
    preview = page.locator(".lop-preview")
    assert "3 rij(en) in orde" in preview.inner_text(), preview.inner_text()
    screenshot(page, "import-preview-ok")
    with page.expect_navigation():
        page.locator("#lop-import-apply button[type=submit]").click()
    result = page.locator(".lop-result").inner_text()
    assert "3 rij(en) verwerkt" in result and "uitnodiging in wachtrij" in result, result
    screenshot(page, "import-applied")

    page.goto(STATS)
    for email in emails:
        assert page.locator(f"li.lop-admin[data-email='{email}']").count() == 1, email
