"""Issue 16, flows 1-3: the school admin (directie.demo, school admin of the first school of site 3) on "Mijn school".

1. changes free places within their rights → saved; within 30 s the public table shows the new number (the
   sidecar's public table as the site reads it, user 0; and the public page when it exists on the site);
2. a field outside their rights is read-only; the same change forced from the browser's JavaScript is refused by
   the sidecar (403, its Dutch words next to the field) and nothing changes;
3. the LOP expert moves the type's free-registration start a few seconds ahead; a page open across that moment
   and then submitted gets the sidecar's refusal in words; once the start has passed the screen shows the rights
   of "after"."""

from __future__ import annotations

import datetime as dt
import re
import time

from .helpers import login, screenshot, site_url

SITE = 3
ADMIN = "directie.demo"
EXPERT = "bert.deskundige"
SCREEN = "wp-admin/admin.php?page=lop-my-school"


def my_school(platform) -> dict:
    schools = platform.call("GET", f"/api/v1/sites/{SITE}/schools", user=ADMIN).json()["schools"]
    return schools[0]


def offerings(platform, school_id: int, year: str) -> list[dict]:
    response = platform.call("GET", f"/api/v1/sites/{SITE}/schools/{school_id}/offerings?year={year}", user=ADMIN)
    assert response.status_code == 200, response.text
    return response.json()["offerings"]


def open_screen(page, school_id: int, year: str) -> None:
    page.goto(site_url(f"{SCREEN}&school={school_id}&year={year}", site=SITE))
    page.locator("table.lop-offerings").wait_for()


def row(page, offering_id: int):
    return page.locator(f"#offering-{offering_id}")


def test_flow1_school_admin_changes_free_places_and_the_public_table_follows(platform, page, public_pages):
    school = my_school(platform)
    target = next(o for o in offerings(platform, school["id"], "current") if "free_places" in o["editable"])
    new_value = (target["free_places"] or 0) + 1 if (target["free_places"] or 0) < 90 else 3
    login(page, ADMIN)
    assert page.locator("#adminmenu a[href*='page=lop-my-school']").count() == 1  # "Mijn school" in the menu
    open_screen(page, school["id"], "current")
    screenshot(page, "my-school-current")
    assert page.locator("h2.lop-school-name").inner_text().startswith(school["name"])
    names = page.locator("table.lop-offerings tbody th.lop-programme strong").all_inner_texts()
    assert names == [o["name"] for o in offerings(platform, school["id"], "current")]  # the API's display order

    field = row(page, target["id"]).locator("input[name='free_places']")
    field.fill(str(new_value))
    with page.expect_navigation():
        row(page, target["id"]).locator("button:has-text('Opslaan')").click()
    page.locator(".notice-success").wait_for()
    assert "Opgeslagen" in page.locator(".notice-success").inner_text()
    assert row(page, target["id"]).locator("input[name='free_places']").input_value() == str(new_value)
    screenshot(page, "my-school-saved")

    # the public table as the site reads it (user 0), within 30 s
    deadline = time.monotonic() + 30
    while True:
        table = platform.call("GET", f"/api/v1/sites/{SITE}/free-places?year=current", user=0).json()
        columns = next(s for s in table["schools"] if s["id"] == school["id"])["columns"]
        shown = next(c for c in columns if c["admgr_code"] == target["admgr_code"])
        if shown["free_places"] == new_value:
            break
        assert time.monotonic() < deadline, f"the public table still shows {shown} after 30 s"
        time.sleep(0.5)
    # and the parents' page (the shortcode [lop_vrije_plaatsen]), which caches for up to 30 s: within 30 s more
    viewer = page.context.new_page()
    deadline = time.monotonic() + 35
    programme = table["programmes"][str(target["admgr_code"])]["name"]
    while True:
        viewer.goto(public_pages[SITE], wait_until="load")
        headers = [h.strip() for h in viewer.locator("table.lop-vp-table thead th").all_inner_texts()]
        cell = viewer.locator("table.lop-vp-table tbody tr", has_text=school["name"]).first.locator("td").nth(
            headers.index(programme) - 1)  # the first header is the school column's
        text = cell.inner_text()
        if re.match(rf"\s*{new_value}\b", text):
            break
        assert time.monotonic() < deadline, f"the public page still shows {text!r} after 35 s"
        viewer.wait_for_timeout(1000)  # a poll interval: the plugin's 30 s run on the server's clock
    screenshot(viewer, "my-school-public-page")
    viewer.close()


def test_flow2_a_field_outside_the_rights_is_read_only_and_forcing_it_is_refused(platform, page):
    school = my_school(platform)
    rows = offerings(platform, school["id"], "current")
    target = next(o for o in rows if "capacity" not in o["editable"] and o["editable"])
    login(page, ADMIN)
    open_screen(page, school["id"], "current")
    cell = row(page, target["id"]).locator("td.lop-field-capacity")
    assert cell.locator("input").count() == 0
    assert "lop-readonly" in cell.get_attribute("class")
    assert "wijzigbaar" in cell.inner_text()  # the reason: "niet wijzigbaar …" or "wijzigbaar vanaf …"

    # force it: the browser's JavaScript adds the field to the offering's form and submits it
    forced = (target["capacity"] or 0) + 7
    with page.expect_navigation():
        page.evaluate("""([id, value]) => {
            const form = document.getElementById('lop-offering-' + id);
            const input = document.createElement('input');
            input.type = 'hidden'; input.name = 'capacity'; input.value = String(value);
            form.appendChild(input);
            form.submit();
        }""", [target["id"], forced])
    page.locator(".notice-error").wait_for()
    refusal = row(page, target["id"]).locator("td.lop-field-capacity .lop-field-error")
    refusal.wait_for()
    assert "capaciteit" in refusal.inner_text().lower()
    screenshot(page, "my-school-forced-refused")
    after = next(o for o in offerings(platform, school["id"], "current") if o["id"] == target["id"])
    assert (after["capacity"], after["version"]) == (target["capacity"], target["version"])
    # and straight at the sidecar, as the plugin sends it: 403 rights_forbidden_fields
    direct = platform.call("PATCH", f"/api/v1/sites/{SITE}/schools/{school['id']}/offerings/{target['id']}",
                           user=ADMIN, json_body={"capacity": forced})
    assert (direct.status_code, direct.json()["code"]) == (403, "rights_forbidden_fields")


def test_flow3_the_free_registration_start_passes_while_the_screen_is_open(platform, page):
    school = my_school(platform)
    stored = platform.call("GET", f"/api/v1/sites/{SITE}/settings", user=EXPERT).json()
    document = {"free_registration_start": dict(stored["free_registration_start"]), "rights": stored["rights"]}
    rows = [o for o in offerings(platform, school["id"], "next") if o["type"] == school["type"]]
    rights = stored["rights"][school["type"]]
    field = next(f for f in ("capacity", "indicator_pct", "suffix", "enrolled")
                 if f"edit_{f}" in rights["next_before"] and f"edit_{f}" not in rights["next_after"])
    target = rows[0]
    start = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=12)).replace(microsecond=0)
    moved = {**document, "free_registration_start": {**document["free_registration_start"],
                                                      school["type"]: start.isoformat()}}
    try:
        response = platform.call("PUT", f"/api/v1/sites/{SITE}/settings", user=EXPERT, json_body=moved)
        assert response.status_code == 200, response.text
        login(page, ADMIN)
        open_screen(page, school["id"], "next")
        cell = row(page, target["id"]).locator(f"td.lop-field-{field}")
        assert cell.locator("input").count() >= 1  # editable before the start …
        assert "wijzigbaar tot" in cell.inner_text()  # … "wijzigbaar tot <start>"
        assert "vóór de start" in page.locator(".lop-rights-summary").inner_text()
        screenshot(page, "my-school-next-before")

        # the page stays open across the start; wait on the clock until it has passed
        while dt.datetime.now(dt.timezone.utc) < start + dt.timedelta(seconds=1):
            page.wait_for_timeout(200)
        value = cell.locator("input").first
        value.fill("3" if field != "suffix" else "campus Zuid")
        with page.expect_navigation():
            row(page, target["id"]).locator("button:has-text('Opslaan')").click()
        refusal = row(page, target["id"]).locator(f"td.lop-field-{field} .lop-field-error")
        refusal.wait_for()
        assert refusal.inner_text().strip()  # the sidecar's words, not a silent partial save
        unchanged = next(o for o in offerings(platform, school["id"], "next") if o["id"] == target["id"])
        assert unchanged["version"] == target["version"]
        screenshot(page, "my-school-refused-after-start")

        # the screen now shows the rights of "after": the field read-only, the period named
        open_screen(page, school["id"], "next")
        cell = row(page, target["id"]).locator(f"td.lop-field-{field}")
        assert cell.locator("input").count() == 0
        assert "na de start" in page.locator(".lop-rights-summary").inner_text()
        screenshot(page, "my-school-next-after")
    finally:
        restored = platform.call("PUT", f"/api/v1/sites/{SITE}/settings", user=EXPERT, json_body=document)
        assert restored.status_code == 200, restored.text
