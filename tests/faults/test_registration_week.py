"""Registration week for 60 seconds (issue 18, "Load"): bench/registration_week.py's whole profile against a
real ``lop-sidecar serve`` (2 workers x 4 threads, as the README deploys it) on MariaDB — 200 parents' clients
on the public free-places table (90% with If-None-Match), 20 school admins saving their own offerings with
If-Match, the LOP expert downloading a 100,000-row log, and ``lop-sidecar jobs run ov-sync`` against a fake
Onderwijs Vlaanderen API. Correctness only: the latency and memory figures are the benchmark's to report
(``python -m bench.registration_week``), never asserted here."""

from __future__ import annotations

from bench.registration_week import Profile, check, report, run


def test_registration_week_loses_nothing_and_fails_no_request(mariadb_url):
    lines: list[str] = []
    result = run(mariadb_url, Profile(seconds=60), say=lines.append)
    report(result, say=lines.append)
    figures = "\n".join(lines)
    print(figures)

    # Everyone really worked: the load is not vacuous.
    assert len(result.public) >= 1000, figures
    assert sum(1 for r in result.public if r[2] == 304) >= 100, figures
    assert result.check["patches_ok"] >= 40, figures

    # No request failed: every public request 200 or 304, every list and PATCH 200, every export complete;
    # so no deadlock or lock-wait timeout (503 database_unavailable) reached a client.
    assert result.failures == [], figures
    statuses = result.server_log["statuses"]
    assert set(statuses) <= {"200", "304"}, figures
    assert result.server_log["counts"].get("database unavailable", 0) == 0, figures
    assert result.server_log["counts"].get("unhandled", 0) == 0, figures
    assert result.server_log["worker_restarts"] == 0, figures

    # Every PATCH that answered 200 is in the database (value and version) and in the log exactly once.
    assert result.check["problems"] == [], figures
    assert result.check["patches_logged"] == result.check["patches_ok"], figures

    # The expert's download was whole, and every OV sync finished.
    assert result.exports and all(e["status"] == 200 for e in result.exports), figures
    assert result.ov_runs and all(r["returncode"] == 0 and "42000 records in 9 pages" in r["output"]
                                  for r in result.ov_runs), figures

    # The check can fail: a PATCH said to have answered 200 that never reached the server is reported.
    ghost = {**result.patches[-1], "request_id": "never-sent-" + result.patches[-1]["request_id"][:20]}
    result.patches.append(ghost)
    assert any("never-sent-" in problem for problem in check(mariadb_url, result)["problems"])
