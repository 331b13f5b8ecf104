"""Helpers of the end-to-end tests (tests/e2e): the platform of wp-plugin/dev/up.sh, driven in Debian's Chromium.

    from tests.e2e.helpers import login, screenshot, mails_to, ACCOUNTS, site_url

Every wait here waits for something (a page element, a file, a log line) up to a timeout; none sleeps and hopes.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from service.signing import sign_headers

ROOT = Path(__file__).resolve().parents[2]
DEV = ROOT / "wp-plugin" / "dev"
STATE = Path(os.environ.get("LOP_PLATFORM_STATE", "/tmp/lop-platform"))
ARTIFACTS = ROOT / ".ci" / "artifacts"
HOST = "lop.test"
BASE_URL = f"http://{HOST}"
DEBUG_LOG = STATE / "debug.log"
MAIL_DIR = STATE / "mail"

# login -> (password, site path where they work); as up.sh prints them
ACCOUNTS = {
    "operator": ("operator-password-123", "/"),
    "an.deskundige": ("deskundige-password-123", "/scheldeland-bao/"),  # LOP expert of site 2 (BaO)
    "bert.deskundige": ("deskundige-password-123", "/scheldeland-so/"),  # LOP expert of site 3 (SO)
    "directie.demo": ("directie-password-123", "/scheldeland-so/"),  # school admin on site 3
}
SITES = {2: "/scheldeland-bao/", 3: "/scheldeland-so/"}
# Paths by which PHP names the plugin's files in debug.log (its real path, and the symlink in wp-content)
PLUGIN_PATHS = ("wp-plugin/lop-sidecar/", "wp-content/plugins/lop-sidecar/")
PHP_PROBLEM = re.compile(r"PHP (Notice|Warning|Deprecated|Fatal error|Parse error|Recoverable fatal error|"
                         r"Strict Standards|User (Notice|Warning|Deprecated|Error))", re.I)
LOG_ENTRY_START = re.compile(r"^\[\d{2}-\w{3}-\d{4} \d{2}:\d{2}:\d{2} [^\]]+\] ", re.M)


@dataclass
class Platform:
    """What up.sh brought up: ids WordPress assigned, the sidecar's address and secret."""
    users: dict[str, int] = field(default_factory=dict)  # login -> WordPress user ID
    sidecar_url: str = ""
    secret: str = ""
    up_seconds: float = 0.0

    @classmethod
    def load(cls, up_seconds: float = 0.0) -> "Platform":
        env = dict(re.findall(r"(LOP_\w+)='?([^' \n]*)'?", (STATE / "env.sh").read_text()))
        made = [json.loads(line) for line in (STATE / "wp-users.json").read_text().splitlines() if line.startswith("{")]
        return cls(users=made[0]["users"], sidecar_url=env["LOP_API_URL"], secret=env["LOP_SHARED_SECRET"],
                   up_seconds=up_seconds)

    def call(self, method: str, path: str, *, user: str | int = "operator", json_body=None,
             timeout: float = 30) -> requests.Response:
        """One signed request to the sidecar, as ``user`` (a login or an ID)."""
        user_id = self.users[user] if isinstance(user, str) else user
        body = b"" if json_body is None else json.dumps(json_body).encode()
        headers = sign_headers(self.secret, method, path, user=user_id, body=body)
        if json_body is not None:
            headers["Content-Type"] = "application/json"
        return requests.request(method, self.sidecar_url + path, data=body or None, headers=headers, timeout=timeout)


def site_url(path: str = "", site: int | None = None) -> str:
    """``site_url("wp-admin/", site=3)`` → http://lop.test/scheldeland-so/wp-admin/"""
    return BASE_URL + (SITES[site] if site else "/") + path.lstrip("/")


def login(page, login: str, password: str | None = None, *, site: int | None = None) -> None:
    """Log in through wp-login.php (of ``site``, else where the account works) and wait for the dashboard."""
    if password is None:
        password = ACCOUNTS[login][0]
    path = SITES[site] if site else ACCOUNTS.get(login, ("", "/"))[1]
    page.goto(f"{BASE_URL}{path}wp-login.php", wait_until="load")
    for _attempt in range(3):
        # The login page's own scripts (focus, the show-password toggle) run as it settles and have been seen to
        # empty the password field just filled: fill, check both values are there, and only then submit.
        page.fill("#user_login", login)
        page.fill("#user_pass", password)
        if page.input_value("#user_login") != login or page.input_value("#user_pass") != password:
            continue
        with page.expect_navigation():
            page.click("#wp-submit")
        error = page.locator("#login_error")
        if not error.count():
            break
        if "password field is empty" not in error.inner_text():
            raise AssertionError(f"login of {login} failed: {error.inner_text().strip()}")
    else:
        raise AssertionError(f"login of {login}: the form did not keep what was typed")
    page.locator("#wpadminbar").wait_for(state="attached")


def screenshot(page, name: str, *, full_page: bool = True) -> Path:
    """Save a PNG of the page as .ci/artifacts/NAME.png (kept by CI) and return its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', name)}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def all_mails() -> list[dict]:
    """Every mail the catcher received since up.sh, oldest first (``mail_from``, ``rcpt_tos``, ``from``, ``to``,
    ``subject``, ``text``, ``html``, ``received_at``, ``eml``: the raw message's file)."""
    mails = []
    for path in sorted(MAIL_DIR.glob("*.json")):
        mails.append(json.loads(path.read_text(encoding="utf-8")))
    return mails


def mails_to(address: str, *, count: int = 1, timeout: float = 90.0, platform: Platform | None = None) -> list[dict]:
    """Wait until the catcher holds at least ``count`` mails to ``address`` and return them, oldest first.

    The sidecar's outbox is sent by its ``mail-outbox`` job (every minute); to not wait for the schedule this
    queues a run of it now — and again every few seconds while nothing arrived — as the operator."""
    platform = platform or Platform.load()
    address = address.lower()
    deadline = time.monotonic() + timeout
    next_kick = 0.0
    while True:
        found = [m for m in all_mails() if address in (a.lower() for a in m["rcpt_tos"])]
        if len(found) >= count:
            return found
        now = time.monotonic()
        if now >= deadline:
            raise AssertionError(f"{len(found)} of {count} mails to {address} arrived within {timeout:.0f} s; "
                                 f"the catcher holds {len(all_mails())} mails in {MAIL_DIR}")
        if now >= next_kick:
            response = platform.call("POST", "/api/v1/jobs/mail-outbox/runs", json_body={})
            assert response.status_code in (202, 409), response.text  # 409: a run is on its way already
            next_kick = now + 5
        time.sleep(0.1)


def debug_log_size() -> int:
    return DEBUG_LOG.stat().st_size if DEBUG_LOG.exists() else 0


def plugin_problems(since: int) -> list[str]:
    """The entries of debug.log after byte ``since`` that are PHP notices, warnings or errors naming the plugin's
    files (a fatal error's stack trace counts: its frames are part of the entry)."""
    if not DEBUG_LOG.exists():
        return []
    with open(DEBUG_LOG, "rb") as f:
        f.seek(since)
        text = f.read().decode("utf-8", "replace")
    starts = [m.start() for m in LOG_ENTRY_START.finditer(text)] or [0]
    entries = [text[a:b].strip() for a, b in zip(starts, starts[1:] + [len(text)])]
    return [e for e in entries if PHP_PROBLEM.search(e) and any(p in e for p in PLUGIN_PATHS)]


def _sidecar_process() -> tuple[int, list[str], dict[str, str], str]:
    """The running sidecar of up.sh (serve.pid): its pid, command line, environment and working directory."""
    pid = int((STATE / "serve.pid").read_text().strip())
    proc = Path(f"/proc/{pid}")
    cmdline = [part.decode() for part in (proc / "cmdline").read_bytes().split(b"\0") if part]
    if "service.cli" not in cmdline or "serve" not in cmdline:
        raise AssertionError(f"serve.pid names {pid}, which is not the sidecar: {cmdline}")
    environ = dict(item.decode().split("=", 1) for item in (proc / "environ").read_bytes().split(b"\0") if b"=" in item)
    return pid, cmdline, environ, os.readlink(proc / "cwd")


def _sidecar_health(url: str) -> bool:
    try:
        return requests.get(url + "/api/v1/health", timeout=2).status_code == 200
    except requests.RequestException:
        return False


@contextlib.contextmanager
def sidecar_stopped(platform: Platform, timeout: float = 60.0):
    """Stops the platform's sidecar (serve; its scheduler keeps running) and starts it again afterwards, with the
    same command line, environment and directory as up.sh gave it, logging to serve.log as before."""
    pid, cmdline, environ, cwd = _sidecar_process()
    os.killpg(pid, signal.SIGTERM)  # up.sh starts it with setsid: the group is gunicorn's master and workers
    deadline = time.monotonic() + timeout
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    while _sidecar_health(platform.sidecar_url):
        if time.monotonic() > deadline:
            raise AssertionError("the sidecar still answers after it was stopped")
        time.sleep(0.1)
    try:
        yield
    finally:
        with open(STATE / "serve.log", "ab") as log:
            started = subprocess.Popen(cmdline, cwd=cwd, env=environ, stdout=log, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, start_new_session=True)
        (STATE / "serve.pid").write_text(f"{started.pid}\n")
        deadline = time.monotonic() + timeout
        while not _sidecar_health(platform.sidecar_url):
            if started.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the sidecar did not come back (exit {started.poll()}); see {STATE / 'serve.log'}")
            time.sleep(0.2)


PUBLIC_SLUG = "vrije-plaatsen"  # as bench/public_page.py


def ensure_page(page, site: int, slug: str, title: str, content: str) -> str:
    """The URL of the published page ``slug`` of ``site``, made through the REST API when missing (the operator
    must be logged in in ``page``, on lop.test: the calls run in the browser, which resolves lop.test)."""
    return page.evaluate("""async ([base, slug, title, content]) => {
        const nonce = (await (await fetch(base + 'wp-admin/admin-ajax.php?action=rest-nonce')).text()).trim();
        if (!/^[0-9a-f]{10}$/.test(nonce)) throw new Error('no REST nonce: ' + nonce.slice(0, 200));
        const headers = {'X-WP-Nonce': nonce, 'Content-Type': 'application/json'};
        const found = await fetch(base + '?rest_route=/wp/v2/pages&context=edit&status=publish,draft&slug='
                                  + encodeURIComponent(slug), {headers});
        if (!found.ok) throw new Error('pages: ' + found.status + ' ' + await found.text());
        const pages = await found.json();
        if (pages.length) return pages[0].link;
        const made = await fetch(base + '?rest_route=/wp/v2/pages', {method: 'POST', headers,
            body: JSON.stringify({title, slug, status: 'publish', content})});
        if (made.status !== 201) throw new Error('new page: ' + made.status + ' ' + await made.text());
        return (await made.json()).link;
    }""", [BASE_URL + SITES[site], slug, title, content])
