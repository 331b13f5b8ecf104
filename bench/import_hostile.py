"""Hostile workbooks against the school-admin import (issue 13): time and peak memory of the worst files
of at most 5 MB, each in a fresh process, as ratios to a valid 5,000-row file measured in the same run.
Targets: every file < 5 s and < 200 MB peak RSS.

    python -m bench.import_hostile
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile

from openpyxl import Workbook

ROWS = 5000


def valid_file() -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = "Schoolbeheerders"
    sheet.append(["Instellingsnummer", "Schoolnaam", "E-mailadres"])
    for n in range(ROWS):
        sheet.append(["000001", "School 1", f"nieuw{n}@school.example"])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def with_sheet_xml(base: bytes, edit) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(base))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item.filename)
            target.writestr(item, edit(data) if item.filename == "xl/worksheets/sheet1.xml" else data)
    return out.getvalue()


def files() -> dict[str, bytes]:
    valid = valid_file()
    far_cells = "".join(f'<c r="XFD{r}" t="inlineStr"><is><t>x</t></is></c>' for r in range(2, ROWS + 2))
    return {
        "valid 5,000 rows (baseline)": valid,
        "row-number bomb (row 4,000,000)": with_sheet_xml(valid, lambda d: d.replace(
            b"</sheetData>", b'<row r="4000000"><c r="A4000000" t="inlineStr"><is><t>x</t></is></c></row></sheetData>')),
        "5,000 cells in column XFD": with_sheet_xml(valid, lambda d: d.replace(
            b'<row r="2">', f'<row r="2">{far_cells}'.encode(), 1)),
        "5,000 rows of 100-character texts": with_sheet_xml(valid, lambda d: d.replace(
            b"nieuw", b"x" * 90 + b"nieuw")),
    }


CHILD = r"""
import json, resource, sys, time, io
from service import create_app
from service.config import Config
from service.signing import sign_headers
from tests.conftest import SECRET
app = create_app(Config(database_url=sys.argv[1], shared_secrets=(SECRET,)))
data = sys.stdin.buffer.read()
path = "/api/v1/sites/2/imports/school-admins?dry_run=true"
boundary = "b"
body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"i.xlsx\"\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
headers = {**sign_headers(SECRET, "POST", path, user=int(sys.argv[2]), body=body), "Content-Type": f"multipart/form-data; boundary={boundary}"}
started = time.perf_counter()
response = app.test_client().post(path, data=body, headers=headers)
print(json.dumps({"seconds": time.perf_counter() - started, "status": response.status_code,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main() -> None:
    import tempfile

    from sqlalchemy import text

    from service.runtime import Runtime
    from tests.conftest import add_user, make_config
    from wp_bridge.db import make_engine
    from wp_bridge.site_admin import enable_site
    from wp_bridge.sites import Network
    from wp_bridge.wp_install import add_site, install_network

    folder = tempfile.mkdtemp()
    url = f"sqlite:///{folder}/bench.sqlite"
    runtime = Runtime(make_config(url), make_engine(url), Network("wp_"))
    with runtime.engine.begin() as conn:
        install_network(conn, runtime.network, domain="lop.test")
        add_site(conn, runtime.network, 2, domain="lop.test", path="/bao/", name="LOP")
    enable_site(runtime.engine, runtime.network, 2, runtime.today())
    with runtime.engine.begin() as conn:
        expert = add_user(conn, runtime.network, "expert", {2: "administrator"})
        conn.execute(text("INSERT INTO wp_2_lop_schools (name, type, created_at, updated_at) "
                          "VALUES ('School 1', 'BaO', '2026-01-01', '2026-01-01')"))
        conn.execute(text("INSERT INTO wp_2_lop_school_vestigingen (school_id, instellingsnummer, vestigingsnummer) "
                          "VALUES (1, 1, 1)"))
    results = {}
    for label, data in files().items():
        out = subprocess.run([sys.executable, "-c", CHILD, url, str(expert)], input=data, capture_output=True, check=True)
        results[label] = (len(data), json.loads(out.stdout.decode().strip().splitlines()[-1]))
    base = results["valid 5,000 rows (baseline)"][1]
    print(f"{'file':<48} {'size':>8} {'status':>6} {'s':>6} {'x base':>7} {'MB':>6} {'x base':>7}")
    for label, (size, r) in results.items():
        print(f"{label:<48} {size / 1024:>6.0f}KB {r['status']:>6} {r['seconds']:>6.2f} {r['seconds'] / base['seconds']:>7.2f} "
              f"{r['rss_mb']:>6.0f} {r['rss_mb'] / base['rss_mb']:>7.2f}")
    worst = max(r["seconds"] for _s, r in results.values()), max(r["rss_mb"] for _s, r in results.values())
    print(f"worst: {worst[0]:.2f} s (target < 5), {worst[1]:.0f} MB (target < 200)")


if __name__ == "__main__":
    main()
