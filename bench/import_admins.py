"""Bulk import of school admins on MariaDB (issue 4): 2,000 rows, 1,000 of them new accounts, under 15 s
(mail delivery excluded: mails are only queued). Prints rows/s and the share of the time spent hashing
set-password keys — for WordPress 6.8+ (BLAKE2b) and for older WordPress (phpass, 8,192 MD5 rounds).

    python -m bench.import_admins
"""

from __future__ import annotations

import argparse
import io
import time

from openpyxl import Workbook

import wp_bridge.school_admins as school_admins
from bench._common import SECRET, fresh_mysql_database
from bench._seed import SITE, seed_site
from service import create_app
from service.config import Config
from service.signing import sign_headers
from wp_bridge.db import utcnow
from wp_bridge.options import set_option


def workbook(rows) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = "Schoolbeheerders"
    sheet.append(["Instellingsnummer", "Schoolnaam", "E-mailadres"])
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def run(db_version: str, rows: int) -> tuple[float, float, int]:
    hashing = [0.0]
    original = school_admins.activation_key_value

    def timed(*args):
        started = time.perf_counter()
        try:
            return original(*args)
        finally:
            hashing[0] += time.perf_counter() - started

    school_admins.activation_key_value = timed
    try:
        with fresh_mysql_database() as url:
            engine, network, info = seed_site(url, schools=200, offerings_per_school=1)
            users = network.core.users
            with engine.begin() as conn:
                set_option(conn, network.prefix(SITE), "db_version", db_version)
                conn.execute(users.insert(), [{"user_login": f"bestaand{n}", "user_nicename": f"bestaand{n}",
                                               "user_email": f"bestaand{n}@school.example", "display_name": f"B {n}",
                                               "user_registered": utcnow().replace(microsecond=0)} for n in range(rows // 2)])
            data = workbook([(f"{100000 + n % 200:06d}", f"School {n % 200:03d}",
                              f"{'bestaand' if n % 2 else 'nieuw'}{n // 2}@school.example") for n in range(rows)])
            client = create_app(Config(database_url=url, shared_secrets=(SECRET,))).test_client()
            path = f"/api/v1/sites/{SITE}/imports/school-admins"
            boundary = "benchboundary"
            body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"i.xlsx\"\r\n\r\n").encode() \
                + data + f"\r\n--{boundary}--\r\n".encode()
            headers = {**sign_headers(SECRET, "POST", path, user=info["expert"], body=body),
                       "Content-Type": f"multipart/form-data; boundary={boundary}"}
            started = time.perf_counter()
            response = client.post(path, data=body, headers=headers)
            elapsed = time.perf_counter() - started
            assert response.status_code == 200, response.get_data(as_text=True)[:500]
            created = response.json["users_created"]
            engine.dispose()
    finally:
        school_admins.activation_key_value = original
    return elapsed, hashing[0], created


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=2000)
    args = parser.parse_args()
    print(f"MariaDB, {args.rows} rows ({args.rows // 2} new accounts), through the app in-process, mails queued only")
    for label, version in (("WordPress 6.8+ (BLAKE2b keys)", "60421"), ("WordPress < 6.8 (phpass keys)", "53496")):
        elapsed, hashing, created = run(version, args.rows)
        print(f"{label}: {elapsed:.2f} s (target < 15)  {args.rows / elapsed:.0f} rows/s  "
              f"{created} accounts created  hashing {hashing:.2f} s = {100 * hashing / elapsed:.0f}% of the time")


if __name__ == "__main__":
    main()
