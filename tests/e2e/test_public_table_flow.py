"""Flows 5 and 6 of issue 16: the public free-places table ([lop_vrije_plaatsen]) on a phone and on a desktop, and
with the sidecar stopped the page still shows the last table with its "laatst bijgewerkt op …". (Flow 6, no PHP
notice in debug.log, is the rig's autouse check.)

The pages with the shortcode are made here, through WordPress's REST API as the operator (idempotent: found by
slug when they exist): site 3 (SO) and site 2 (BaO, with its AN column)."""

from __future__ import annotations

import re
import time

from .helpers import screenshot, sidecar_stopped


def school_names(page) -> list[str]:
    return [re.sub(r"\s+", " ", name).strip() for name in
            page.locator("table.lop-vp-table tbody th[scope=row]").evaluate_all(
                "cells => cells.map(c => c.firstChild.textContent)")]


def test_public_table_on_phone_and_desktop_and_without_the_sidecar(browser, platform, public_pages):
    expected = platform.call("GET", "/api/v1/sites/3/free-places?year=current", user=0).json()
    names = [school["name"] for school in expected["schools"]]
    assert len(names) >= 2

    # a parent on a phone (no login)
    phone = browser.new_context(viewport={"width": 390, "height": 844}, locale="nl-BE", timezone_id="Europe/Brussels",
                                is_mobile=True, has_touch=True, device_scale_factor=2)
    page = phone.new_page()
    page.goto(public_pages[3], wait_until="load")
    table = page.locator("table.lop-vp-table")
    table.wait_for()
    assert f"Vrije plaatsen schooljaar {expected['school_year']}" in page.locator("table.lop-vp-table caption").text_content()
    assert page.locator(".lop-vp-title").inner_text() == f"Vrije plaatsen schooljaar {expected['school_year']}"
    assert school_names(page) == names  # the sidecar's (name) order
    assert page.locator("table.lop-vp-table thead th[scope=col]").count() >= 2
    assert page.locator(".lop-vp-stale").count() == 0
    # the school column stays in view while the programmes scroll sideways
    scroller = page.locator(".lop-vp-scroll")
    assert scroller.evaluate("e => e.scrollWidth > e.clientWidth"), "the table fits a phone: nothing to scroll"
    first_school = page.locator("table.lop-vp-table tbody th[scope=row]").first
    before = first_school.bounding_box()
    scroller.evaluate("e => { e.scrollLeft = 400; }")
    page.wait_for_function("() => document.querySelector('.lop-vp-scroll').scrollLeft > 0")
    after = first_school.bounding_box()
    assert abs(after["x"] - before["x"]) < 1, (before, after)
    screenshot(page, "public-table-phone-390-scrolled", full_page=False)
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390, "the page itself scrolls sideways"
    scroller.evaluate("e => { e.scrollLeft = 0; }")
    screenshot(page, "public-table-phone-390", full_page=False)
    screenshot(page, "public-table-phone-390-full")
    phone.close()

    desktop = browser.new_context(viewport={"width": 1280, "height": 800}, locale="nl-BE", timezone_id="Europe/Brussels")
    page = desktop.new_page()
    page.goto(public_pages[3], wait_until="load")
    page.locator("table.lop-vp-table").wait_for()
    screenshot(page, "public-table-desktop-1280", full_page=False)

    # the BaO site: its expert offers AN (anderstalige nieuwkomers) at a school; the page shows the AN column
    bao = platform.call("GET", "/api/v1/sites/2/free-places?year=current", user=0).json()
    school = next(s for s in bao["schools"] if s["type"] == "BaO")
    added = platform.call("POST", f"/api/v1/sites/2/schools/{school['id']}/offerings", user="an.deskundige",
                          json_body={"year": "current", "admgr_code": 10000, "capacity": 12, "free_places": 4})
    assert added.status_code in (201, 409), added.text  # 409: offered already (a platform kept up)
    an_header = page.locator("table.lop-vp-table thead th", has_text="Anderstalige nieuwkomers")
    deadline = time.monotonic() + 75  # a table cached before the AN was added is revalidated within 30 s
    while True:
        page.goto(public_pages[2], wait_until="load")
        page.locator("table.lop-vp-table").wait_for()
        if an_header.count():
            break
        assert time.monotonic() < deadline, "no AN column"
        page.wait_for_timeout(1000)
    assert school_names(page) == [s["name"] for s in bao["schools"]]
    row = page.locator("table.lop-vp-table tbody tr", has=page.locator("th", has_text=school["name"]))
    assert row.locator("td").last.inner_text().split()[:1] == ["4"]  # AN is the last column: 4 free places
    screenshot(page, "public-table-bao-desktop-1280", full_page=False)
    page.locator(".lop-vp-scroll").evaluate("e => { e.scrollLeft = e.scrollWidth; }")
    screenshot(page, "public-table-bao-desktop-1280-scrolled-to-an", full_page=False)

    # the sidecar stops: the page keeps its table, and once the plugin's 30 s are over and its revalidation
    # fails, says from when the numbers are
    with sidecar_stopped(platform):
        deadline = time.monotonic() + 75
        while True:
            started = time.monotonic()
            page.goto(public_pages[3], wait_until="load")
            assert time.monotonic() - started < 10, "the page waited for the stopped sidecar"
            page.locator("table.lop-vp-table").wait_for()
            assert school_names(page) == names
            if page.locator(".lop-vp-stale").count():
                break
            assert time.monotonic() < deadline, "no 'laatst bijgewerkt' within 75 s of stopping the sidecar"
            page.wait_for_timeout(1000)  # the next look at the page (the plugin's 30 s run on the server's clock)
        stale = page.locator(".lop-vp-stale").inner_text()
        assert re.search(r"laatst bijgewerkt op \d{2}/\d{2}/\d{4} \d{2}:\d{2}", stale), stale
        screenshot(page, "public-table-desktop-sidecar-stopped", full_page=False)
        phone = browser.new_context(viewport={"width": 390, "height": 844}, locale="nl-BE", is_mobile=True)
        phone_page = phone.new_page()
        phone_page.goto(public_pages[3], wait_until="load")
        phone_page.locator(".lop-vp-stale").wait_for()
        screenshot(phone_page, "public-table-phone-sidecar-stopped", full_page=False)
        phone.close()

    # back up: within the next 30 s window the page is current again (no note)
    deadline = time.monotonic() + 75
    while True:
        page.goto(public_pages[3], wait_until="load")
        page.locator("table.lop-vp-table").wait_for()
        if not page.locator(".lop-vp-stale").count():
            break
        assert time.monotonic() < deadline, "the note stayed after the sidecar came back"
        page.wait_for_timeout(1000)
    desktop.close()
