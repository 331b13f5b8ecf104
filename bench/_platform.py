"""Benchmarks on the whole platform of wp-plugin/dev/up.sh (apache2 + mod_php WordPress, the sidecar, MariaDB):
the platform's lock (so end-to-end runs wait), logging in as a WordPress user, and server CPU read from /proc.

Server CPU is the user + system time of every process that serves a page view: apache2 (PHP runs inside it),
the sidecar's serve processes and mariadbd — summed before and after a run of sequential requests."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
STATE = Path(os.environ.get("LOP_PLATFORM_STATE", "/tmp/lop-platform"))
SESSION_LOCK = "/tmp/lop-platform-session.lock"  # the same lock as tests/e2e (wp-plugin/dev/lib.sh)
HOST = "lop.test"
TICKS = os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def platform() -> Iterator[None]:
    """The platform to ourselves: its lock held (end-to-end runs wait), up.sh run when it does not answer."""
    with open(SESSION_LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _answers():
            subprocess.run(["bash", str(ROOT / "wp-plugin" / "dev" / "up.sh")], check=True, capture_output=True)
        yield


def _answers() -> bool:
    try:
        return requests.get("http://127.0.0.1/wp-login.php", headers={"Host": HOST}, timeout=5).status_code == 200
    except requests.RequestException:
        return False


def session(login: str, password: str, site_path: str) -> requests.Session:
    """A logged-in WordPress session (as a browser: the login cookie, then wp-admin)."""
    s = requests.Session()
    s.headers["Host"] = HOST
    s.cookies.set("wordpress_test_cookie", "WP Cookie check", domain=HOST)
    response = s.post(f"http://127.0.0.1{site_path}wp-login.php", allow_redirects=False,
                      data={"log": login, "pwd": password, "wp-submit": "Log In", "testcookie": "1"})
    if response.status_code != 302:
        raise SystemExit(f"logging in as {login} failed (HTTP {response.status_code}): is the platform up?")
    for cookie in list(s.cookies):  # WordPress sets them for the host the request named; requests keys on the IP
        s.cookies.set(cookie.name, cookie.value, domain="127.0.0.1", path=cookie.path)
    return s


def get(s: requests.Session, path: str) -> str:
    response = s.get(f"http://127.0.0.1{path}", allow_redirects=False, timeout=30)
    if response.status_code != 200:
        raise SystemExit(f"GET {path}: HTTP {response.status_code}")
    return response.text


def _pids() -> list[int]:
    """apache2, the sidecar's serve processes (its process group) and mariadbd."""
    serve_group = int((STATE / "serve.pid").read_text())
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        if name in ("apache2", "mariadbd", "mysqld") or int(fields[2]) == serve_group:  # fields[2]: the group
            pids.append(int(entry.name))
    return pids


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def server_cpu() -> dict[int, float]:
    return {pid: cpu_seconds(pid) for pid in _pids()}


def cpu_used(before: dict[int, float]) -> float:
    """Server CPU seconds since ``before`` (processes that started meanwhile count whole)."""
    after = server_cpu()
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


def sidecar_requests() -> int:
    """Signed requests the sidecar has received: each stores its nonce (kept for the clock-skew window)."""
    env = dict(re.findall(r"(\w+)='([^']*)'", (STATE / "env.sh").read_text()))
    url = env["LOP_DATABASE_URL"]
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT COUNT(*) FROM wp_lop_request_nonces")).scalar_one())
    finally:
        engine.dispose()


def accounts() -> dict:
    return json.loads((ROOT / "wp-plugin" / "dev" / "platform.json").read_text())["users"]
