"""The lop-sidecar command: configuration errors, migrate, sites, demo, and serve + call end to end."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import pytest
import requests

from service.cli import main
from service.config import ConfigError, load_config
from tests.conftest import SECRET
from wp_bridge.db import make_engine
from wp_bridge.sites import Network
from wp_bridge.tables import site_tables

CLI = [sys.executable, "-m", "service.cli"]


@pytest.mark.parametrize("env, variable", [
    ({"LOP_DATABASE_URL": "not a url"}, "LOP_DATABASE_URL"),
    ({"LOP_DATABASE_URL": "postgresql://localhost/wp"}, "LOP_DATABASE_URL"),
    ({"LOP_WP_TABLE_PREFIX": "wp-; DROP"}, "LOP_WP_TABLE_PREFIX"),
    ({"LOP_SHARED_SECRET": "short"}, "LOP_SHARED_SECRET"),
    ({"LOP_OV_API_URL": "ftp://x"}, "LOP_OV_API_URL"),
    ({"LOP_AGODI_URL": "nohost"}, "LOP_AGODI_URL"),
    ({"LOP_SMTP_URL": "http://mail"}, "LOP_SMTP_URL"),
    ({"LOP_MAIL_FROM": "not-an-address"}, "LOP_MAIL_FROM"),
    ({"LOP_TIMEZONE": "Europe/Gent"}, "LOP_TIMEZONE"),
    ({"LOP_ROLE_SCHOOL_ADMIN": "School Beheerder"}, "LOP_ROLE_SCHOOL_ADMIN"),
    ({"LOP_NETWORK_ID": "0"}, "LOP_NETWORK_ID"),
    ({"LOP_NETWORK_ID": "²"}, "LOP_NETWORK_ID"),
])
def test_malformed_settings_name_the_variable(env, variable):
    with pytest.raises(ConfigError) as error:
        load_config(env)
    assert error.value.variable == variable


def test_defaults_and_secret_rotation(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = load_config({"LOP_SHARED_SECRET": "first-secret-123456, second-secret-12345"})
    assert config.database_url == f"sqlite:///{tmp_path / 'lop-sidecar.sqlite'}"
    assert config.table_prefix == "wp_" and config.timezone == "Europe/Brussels"
    assert config.shared_secrets == ("first-secret-123456", "second-secret-12345")
    assert "first-secret" not in repr(config)
    assert "apikey" not in repr(load_config({"LOP_OV_API_KEY": "apikey"}))


def test_serve_without_secret_stops_with_one_line(monkeypatch, capsys):
    monkeypatch.delenv("LOP_SHARED_SECRET", raising=False)
    assert main(["serve"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["lop-sidecar: configuration error: LOP_SHARED_SECRET: required: the secret shared with the WordPress plugin"]


def _command_paths(parser, prefix=()):
    """Every command and sub-command of the parser (jobs included), found by walking it: a new one is
    covered without touching the test."""
    import argparse

    yield list(prefix)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _command_paths(sub, (*prefix, name))


def test_every_command_and_job_prints_its_help(capsys):
    from service.cli import _parser

    paths = list(_command_paths(_parser()))
    assert ["jobs", "run", "agodi-sync"] in paths and ["jobs", "run", "ov-sync"] in paths and ["call"] in paths
    assert len(paths) > 20
    for path in paths:
        with pytest.raises(SystemExit) as done:
            main([*path, "--help"])
        out = capsys.readouterr()
        assert done.value.code == 0 and out.out.startswith("usage: lop-sidecar") and out.err == "", path
    # the texts with a literal % print it once
    with pytest.raises(SystemExit):
        main(["jobs", "run", "agodi-sync", "--help"])
    assert "fewer than 85% of the active codes" in capsys.readouterr().out
    # and the installed way: a real process
    result = subprocess.run(check=False, args=CLI + ["jobs", "run", "ov-sync", "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "15%" in result.stdout and result.stderr == ""


def test_jobs_list_knows_every_job():
    result = subprocess.run(check=False, args=CLI + ["jobs", "list"], capture_output=True, text=True, timeout=60)
    names = [line.split()[0] for line in result.stdout.splitlines()]
    assert names == ["agodi-sync", "free-places-snapshot", "mail-outbox", "ov-sync", "prune-job-runs", "prune-nonces",
                     "rollover", "site-purge"]
    assert result.stdout.splitlines()[-1].split()[1] == "manual"  # never scheduled


def test_migrate_and_sites_commands(databases, monkeypatch, capsys):
    url = databases.new_url()
    monkeypatch.setenv("LOP_DATABASE_URL", url)
    assert main(["migrate"]) == 1
    assert "WordPress tables with prefix 'wp_' not found" in capsys.readouterr().err

    assert main(["migrate", "--with-wordpress-core"]) == 0
    assert "applied network: v1" in capsys.readouterr().out
    assert main(["migrate"]) == 0
    assert "nothing to do" in capsys.readouterr().out

    assert main(["sites", "enable", "1"]) == 0
    out = capsys.readouterr().out
    assert "site 1: v1" in out and "site 1: enabled as LOP site" in out
    assert main(["sites", "enable", "1"]) == 0
    assert "nothing to do" in capsys.readouterr().out
    assert main(["sites", "list"]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing[1].split()[:2] == ["1", "yes"]
    assert main(["sites", "disable", "1"]) == 0
    assert "disabled (its data is kept)" in capsys.readouterr().out
    assert main(["sites", "enable", "7"]) == 1
    assert "site 7 does not exist" in capsys.readouterr().err


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(url: str, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited: {process.stderr.read()}")
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):  # not up yet, or a busy machine
            time.sleep(0.2)
    raise AssertionError(f"{url} did not come up")


@pytest.fixture
def served(rt, users):
    port = _free_port()
    env = {**os.environ, "LOP_DATABASE_URL": rt.config.database_url, "LOP_SHARED_SECRET": SECRET,
           "LOP_API_URL": f"http://127.0.0.1:{port}"}
    process = subprocess.Popen(CLI + ["serve", "--bind", f"127.0.0.1:{port}", "--workers", "2"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(f"http://127.0.0.1:{port}/api/v1/health", process)
        yield env
    finally:
        process.terminate()
        process.wait(timeout=30)


def _call(env, *args):
    return subprocess.run(check=False, args=CLI + ["call", *args], env=env, capture_output=True, text=True, timeout=60)


def test_serve_and_call_end_to_end(served, rt, users):
    created = _call(served, "POST", "/api/v1/sites/2/schools", "--user", str(users.expert2), "--data",
                    json.dumps({"name": "Basisschool 't Klimtouw", "type": "BaO",
                                "vestigingen": [{"instellingsnummer": 4711, "vestigingsnummer": 1}]}))
    assert created.returncode == 0, created.stderr
    school = json.loads(created.stdout)
    assert school["vestigingen"][0]["instellingsnummer_text"] == "004711"

    listed = _call(served, "GET", "/api/v1/sites/2/schools", "--user", str(users.admin2))
    assert listed.returncode == 0 and json.loads(listed.stdout) == {"schools": []}

    refused = _call(served, "GET", "/api/v1/sites/2/schools", "--user", str(users.nobody))
    assert refused.returncode == 1
    assert json.loads(refused.stdout)["code"] == "forbidden"

    # A query string travels exactly as signed through gunicorn.
    deleted = _call(served, "DELETE", f"/api/v1/sites/2/schools/{school['id']}?force=true", "--user", str(users.expert2))
    assert deleted.returncode == 0, deleted.stdout + deleted.stderr

    default_user = _call({**served, "LOP_CALL_USER": str(users.operator)}, "GET", "/api/v1/sites")
    assert [s["id"] for s in json.loads(default_user.stdout)["sites"]] == [2, 3]


def test_call_reports_an_unreachable_server(monkeypatch, capsys):
    monkeypatch.setenv("LOP_SHARED_SECRET", SECRET)
    monkeypatch.setenv("LOP_API_URL", f"http://127.0.0.1:{_free_port()}")
    assert main(["call", "GET", "/api/v1/sites"]) == 2
    assert "cannot reach" in capsys.readouterr().err


def test_demo_seeds_a_network_that_the_api_serves(tmp_path, capsys):
    db = tmp_path / "demo.sqlite"
    assert main(["demo", "--db", str(db), "--no-serve"]) == 0
    out = capsys.readouterr().out
    assert "20 schools" in out and "lop-sidecar call GET /api/v1/sites/2/schools" in out
    assert "LOP_CALL_USER=1" in out

    from service import create_app
    from service.runtime import Runtime
    from tests.conftest import SignedClient, make_config

    config = make_config(f"sqlite:///{db}")
    runtime = Runtime(config, make_engine(config.database_url), Network("wp_"))
    client = SignedClient(create_app(runtime=runtime).test_client())
    sites = client.get("/api/v1/sites", user=1).json["sites"]
    assert [(s["id"], s["name"]) for s in sites] == [(2, "LOP Scheldeland Basisonderwijs"),
                                                     (3, "LOP Scheldeland Secundair Onderwijs")]
    assert len(client.get("/api/v1/sites/2/schools", user=1).json["schools"]) == 10
    with runtime.engine.connect() as conn:
        from sqlalchemy import func, select

        offerings = site_tables("wp_3_").offerings
        years = conn.execute(select(offerings.c.school_year, func.count()).group_by(offerings.c.school_year)).all()
    assert len(years) == 2  # current and next school year
    runtime.engine.dispose()


def test_call_piped_into_head_ends_quietly(tmp_path):
    """``lop-sidecar call … | head -1``: the reader goes away after one line; no BrokenPipe traceback."""
    import http.server
    import threading

    body = json.dumps({"rows": [{"id": n, "name": f"school {n}"} for n in range(20000)]}).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        env = {**os.environ, "LOP_SHARED_SECRET": SECRET, "LOP_API_URL": f"http://127.0.0.1:{server.server_port}"}
        command = " ".join(CLI) + " call GET /api/v1/sites | head -1"
        result = subprocess.run(check=False, args=["bash", "-c", "set -o pipefail; " + command], env=env, capture_output=True, text=True,
                                timeout=60, cwd=os.getcwd())
    finally:
        server.shutdown()
        server.server_close()
    assert result.stdout == "{\n"
    assert result.stderr == ""  # no traceback, no "Exception ignored" at exit
    assert result.returncode == 1  # EPIPE, as Python's own documentation exits


def test_call_file_arguments_are_checked(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LOP_SHARED_SECRET", SECRET)
    monkeypatch.setenv("LOP_API_URL", f"http://127.0.0.1:{_free_port()}")
    for args, message in ((["--file", "admins.xlsx"], "FIELD=@PATH"), (["--file", f"file=@{tmp_path}/none.xlsx"], "cannot read"),
                          (["--file", f"file=@{tmp_path}/none.xlsx", "--data", "{}"], "cannot be combined")):
        assert main(["call", "POST", "/api/v1/sites/2/imports/school-admins", *args]) == 2
        assert message in capsys.readouterr().err


def test_call_uploads_a_file_as_multipart(served, rt, users, tmp_path):
    from openpyxl import Workbook

    created = _call(served, "POST", "/api/v1/sites/2/schools", "--user", str(users.expert2), "--data",
                    json.dumps({"name": "De Linde", "type": "BaO", "vestigingen": [{"instellingsnummer": 4711, "vestigingsnummer": 1}]}))
    assert created.returncode == 0, created.stderr
    workbook = Workbook()
    workbook.active.title = "Schoolbeheerders"
    workbook.active.append(["Instellingsnummer", "Schoolnaam", "E-mailadres"])
    workbook.active.append(["004711", "De Linde", "directie@linde.be"])
    path = tmp_path / "admins.xlsx"
    workbook.save(path)
    imported = _call(served, "POST", "/api/v1/sites/2/imports/school-admins?dry_run=true", "--user", str(users.expert2),
                     "--file", f"file=@{path}")
    assert imported.returncode == 0, imported.stdout + imported.stderr
    report = json.loads(imported.stdout)
    assert (report["rows"], report["users_created"], report["dry_run"]) == (1, 1, True)
    # the xlsx report of the real import, written to a file
    out = tmp_path / "verslag.xlsx"
    done = _call(served, "POST", "/api/v1/sites/2/imports/school-admins?report=xlsx", "--user", str(users.expert2),
                 "--file", f"file=@{path}", "--output", str(out))
    assert done.returncode == 0, done.stderr
    from openpyxl import load_workbook

    assert load_workbook(out)["Schoolbeheerders"]["D2"].value == "toegevoegd, nieuw account (uitnodiging in wachtrij)"
