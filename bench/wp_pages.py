"""The Extra screens against a stock WordPress admin screen, on the local platform (issue 15): server CPU per
page view (apache2 with PHP, the sidecar, MariaDB; from /proc, sequential client) as a ratio to the Users list
(target ≤ 1.5), and the sidecar calls per page view (target ≤ 2), counted from the nonces it stored.

    bash wp-plugin/dev/up.sh          # once (the benchmark runs it when the platform does not answer)
    python -m bench.wp_pages [--n 200]

The platform's lock is held during the run, so end-to-end tests wait; other load on the machine (MariaDB is
shared) adds noise to every figure alike — the screens and the baseline are measured in interleaved rounds."""

from __future__ import annotations

import argparse

from bench._platform import accounts, cpu_used, get, platform, server_cpu, session, sidecar_requests

SITE = "/scheldeland-so/"
BASELINE = ("Users (stock WordPress)", f"{SITE}wp-admin/users.php")
SCREENS = [
    ("School stats", f"{SITE}wp-admin/admin.php?page=lop-extra"),
    ("Logbestand", f"{SITE}wp-admin/admin.php?page=lop-log"),
    ("Onderwijs Vlaanderen", f"{SITE}wp-admin/admin.php?page=lop-ov"),
    ("Instellingen", f"{SITE}wp-admin/admin.php?page=lop-instellingen"),
    ("Export", f"{SITE}wp-admin/admin.php?page=lop-export"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=200, help="page views per screen and round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with platform():
        expert = accounts()["bert.deskundige"]
        s = session("bert.deskundige", expert["password"], SITE)
        pages = [BASELINE, *SCREENS]
        for _name, path in pages:  # warm-up: opcache, the plugin's and WordPress's caches
            for _ in range(10):
                get(s, path)
        cpu = dict.fromkeys(pages, 0.0)
        calls = dict.fromkeys(pages, 0)
        for _round in range(args.rounds):
            for page in pages:
                seen, before = sidecar_requests(), server_cpu()
                for _ in range(args.n):
                    get(s, page[1])
                cpu[page] += cpu_used(before)
                calls[page] += sidecar_requests() - seen
    views = args.n * args.rounds
    base = cpu[BASELINE] / views
    print(f"server CPU per page view (apache2 + PHP, sidecar, MariaDB), {views} sequential views each, "
          f"{args.rounds} interleaved rounds")
    print(f"{BASELINE[0]:28s}: {base * 1000:6.1f} ms")
    for page in SCREENS:
        per_view = cpu[page] / views
        print(f"{page[0]:28s}: {per_view * 1000:6.1f} ms  ratio {per_view / base:4.2f} (target <= 1.5)  "
              f"sidecar calls per view {calls[page] / views:4.2f} (target <= 2)")


if __name__ == "__main__":
    main()
