"""The end-to-end rig: the whole platform (wp-plugin/dev/up.sh) once per test run, Debian's Chromium through
Playwright, and a check that fails a test when WordPress's debug.log gained a PHP notice, warning or error from
the plugin's files. Helpers (login, screenshot, mails_to): tests/e2e/helpers.py."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time

import pytest

from .helpers import ARTIFACTS, BASE_URL, DEV, HOST, PUBLIC_SLUG, Platform, debug_log_size, ensure_page, login, plugin_problems

SESSION_LOCK = "/tmp/lop-platform-session.lock"  # wp-plugin/dev/lib.sh
CHROMIUM = os.environ.get("LOP_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="session")
def platform() -> Platform:
    """Runs wp-plugin/dev/up.sh once (the sidecar with this interpreter), and down.sh at the end of the run."""
    env = {**os.environ, "LOP_PYTHON": os.environ.get("LOP_PYTHON", sys.executable)}
    # one platform per machine: a concurrent test run waits here until this one is done
    lock = open(SESSION_LOCK, "w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    started = time.monotonic()
    result = subprocess.run(["bash", str(DEV / "up.sh")], env=env, capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        lock.close()
        pytest.fail(f"wp-plugin/dev/up.sh failed (exit {result.returncode}):\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}",
                    pytrace=False)
    up = Platform.load(up_seconds=time.monotonic() - started)
    print(f"\n[e2e] platform up in {up.up_seconds:.1f} s", file=sys.stderr)
    yield up
    if not os.environ.get("LOP_E2E_KEEP_UP"):
        subprocess.run(["bash", str(DEV / "down.sh")], env=env, capture_output=True, text=True, timeout=120)
    lock.close()


@pytest.fixture(scope="session")
def browser(platform):
    """Debian's Chromium, headless, resolving lop.test to this machine."""
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (bash .ci/run installs it)", pytrace=False)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", f"--host-resolver-rules=MAP {HOST} 127.0.0.1"])
        yield browser
        browser.close()


@pytest.fixture
def context(browser):
    """A fresh browser profile (no cookies) per test."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="nl-BE", timezone_id="Europe/Brussels",
                                  base_url=BASE_URL)
    context.set_default_timeout(20_000)
    yield context
    context.close()


@pytest.fixture
def page(context):
    return context.new_page()


@pytest.fixture(autouse=True)
def no_plugin_php_problems(platform):
    """Fails the test when debug.log gained a notice, warning or error from wp-plugin/lop-sidecar/ during it."""
    before = debug_log_size()
    yield
    problems = plugin_problems(before)
    if problems:
        pytest.fail("WordPress's debug.log names the plugin:\n" + "\n".join(problems), pytrace=False)


def pytest_configure(config):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)


@pytest.fixture(scope="session")
def public_pages(browser, platform):
    """{site: URL of the public page}: the shortcode page of site 3 and of site 2."""
    context = browser.new_context(base_url=BASE_URL)
    context.set_default_timeout(20_000)
    page = context.new_page()
    login(page, "operator", site=3)
    urls = {
        3: ensure_page(page, 3, PUBLIC_SLUG, "Vrije plaatsen", "<!-- wp:shortcode -->[lop_vrije_plaatsen]<!-- /wp:shortcode -->"),
        2: ensure_page(page, 2, PUBLIC_SLUG, "Vrije plaatsen", "<!-- wp:shortcode -->[lop_vrije_plaatsen]<!-- /wp:shortcode -->"),
    }
    context.close()
    return urls
