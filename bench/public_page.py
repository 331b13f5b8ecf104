"""The public free-places page during registration week, on the local platform (wp-plugin/dev/up.sh; run by hand,
not in CI): ``python -m bench.public_page [--requests 300] [--seconds 60] [--clients 16]``.

1. Server CPU per page view (apache2/PHP workers + the sidecar's gunicorn processes + MariaDB, utime+stime from
   /proc/<pid>/stat), sequential client, of site 3's page with [lop_vrije_plaatsen] served from the plugin's cache
   against the same WordPress page without the shortcode; printed as a ratio (target ≤ 1.25).
2. 16 concurrent clients on the table page for 60 s: the requests the sidecar received for the table (its access
   log, serve.log; target ≤ one per 30 s).

The bench holds the platform's lock while it runs (bench/_platform.py: an e2e run waits, and the platform is
started when it does not answer). It makes the two pages (REST API, as the
operator) when they are missing. Other work on the machine adds to the processes it reads: run it on a quiet one.
"""

from __future__ import annotations

import argparse
import re
import threading
import time

import requests
import urllib3.util.connection

from bench._platform import STATE, cpu_used, platform, server_cpu

BASE = "http://lop.test/scheldeland-so/"
TABLE_SLUG, PLAIN_SLUG = "vrije-plaatsen", "vrije-plaatsen-zonder-tabel"
FRESH_SECONDS = 30  # LOP_Sidecar_Public::FRESH_SECONDS

_create_connection = urllib3.util.connection.create_connection


def _to_localhost(address, *args, **kwargs):  # lop.test is this machine (as Chromium's --host-resolver-rules)
    host, port = address
    return _create_connection(("127.0.0.1" if host == "lop.test" else host, port), *args, **kwargs)


urllib3.util.connection.create_connection = _to_localhost


def ensure_pages(session: requests.Session) -> dict[str, str]:
    """The two pages of site 3 (the table, and its twin without it), made through the REST API when missing."""
    response = session.post(BASE + "wp-login.php", data={"log": "operator", "pwd": "operator-password-123",
                                                         "wp-submit": "Log In", "testcookie": "1"},
                            cookies={"wordpress_test_cookie": "WP Cookie check"}, allow_redirects=False, timeout=30)
    assert response.status_code == 302, f"login failed: {response.status_code}"
    nonce = session.get(BASE + "wp-admin/admin-ajax.php?action=rest-nonce", timeout=30).text.strip()
    assert re.fullmatch(r"[0-9a-f]{10}", nonce), nonce[:200]
    headers = {"X-WP-Nonce": nonce}
    urls = {}
    for slug, content in ((TABLE_SLUG, "<!-- wp:shortcode -->[lop_vrije_plaatsen]<!-- /wp:shortcode -->"),
                          (PLAIN_SLUG, "<!-- wp:paragraph --><p>Vrije plaatsen</p><!-- /wp:paragraph -->")):
        found = session.get(BASE, params={"rest_route": "/wp/v2/pages", "slug": slug}, headers=headers, timeout=30)
        found.raise_for_status()
        if found.json():
            urls[slug] = found.json()[0]["link"]
            continue
        made = session.post(BASE + "?rest_route=/wp/v2/pages", headers=headers, timeout=30,
                            json={"title": "Vrije plaatsen", "slug": slug, "status": "publish", "content": content})
        assert made.status_code == 201, made.text
        urls[slug] = made.json()["link"]
    return urls


def cpu_per_view(url: str, count: int, marker: str | None) -> float:
    session = requests.Session()
    before = server_cpu()
    for _ in range(count):
        response = session.get(url, timeout=30)
        response.raise_for_status()
        if marker is not None:
            assert marker in response.text, "the page lacks the table"
    return cpu_used(before) / count


def sidecar_table_requests(since: int) -> int:
    with open(STATE / "serve.log", "rb") as log:
        log.seek(since)
        return len(re.findall(rb"lop_sidecar\.access GET /api/v1/sites/3/free-places", log.read()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300, help="page views per page, after a warm-up (≥ 300)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds the views are split into")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=16)
    args = parser.parse_args()

    with platform():  # the platform to ourselves (an e2e run waits), started when it does not answer
        measure(args)


def measure(args) -> None:
    urls = ensure_pages(requests.Session())
    table_url, plain_url = urls[TABLE_SLUG], urls[PLAIN_SLUG]
    print(f"table page {table_url}\nplain page {plain_url}")

    for url in (table_url, plain_url):  # warm-up: opcache, the transient, MariaDB's buffers
        for _ in range(30):
            requests.get(url, timeout=30).raise_for_status()

    per_round = max(1, args.requests // args.rounds)
    table_cpu = plain_cpu = 0.0
    for _ in range(args.rounds):  # alternating, so drift on the machine falls on both pages alike
        table_cpu += cpu_per_view(table_url, per_round, 'class="lop-vp-table"') / args.rounds
        plain_cpu += cpu_per_view(plain_url, per_round, None) / args.rounds
    print(f"sequential, {per_round * args.rounds} views each: server CPU per view  table {table_cpu * 1000:.2f} ms,"
          f"  without the shortcode {plain_cpu * 1000:.2f} ms,  ratio {table_cpu / plain_cpu:.3f} (target ≤ 1.25)")

    since = (STATE / "serve.log").stat().st_size
    deadline = time.monotonic() + args.seconds
    counts, errors = [0] * args.clients, [0] * args.clients

    def client(index: int) -> None:
        session = requests.Session()
        while time.monotonic() < deadline:
            try:
                response = session.get(table_url, timeout=30)
                ok = response.status_code == 200 and 'class="lop-vp-table"' in response.text
            except requests.RequestException:
                ok = False
            counts[index] += ok
            errors[index] += not ok

    threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    received = sidecar_table_requests(since)
    allowed = int(args.seconds // FRESH_SECONDS) + 1
    print(f"{args.clients} clients for {args.seconds:.0f} s: {sum(counts)} pages with the table"
          f" ({sum(counts) / args.seconds:.1f}/s), {sum(errors)} failed; the sidecar received {received} requests for"
          f" the table (target ≤ {allowed}: one per {FRESH_SECONDS} s)")


if __name__ == "__main__":
    main()
