"""Flow 4 (issue 16): the LOP expert (bert.deskundige, site 3) switches to a school admin (directie.demo) from
Extra > School stats, edits as that admin through the sidecar, switches back with "Terug naar …" in the admin bar,
and the Logbestand names both ("Bert … (als …)"). Switching to an operator or a LOP expert is not offered, and
refused when forced — by WordPress (the plugin) and by the sidecar. Plus "Rechten bekijken als…" on Instellingen."""

from __future__ import annotations

import uuid

import requests

from service.signing import sign_headers

from .helpers import login, screenshot, site_url

STATS = site_url("wp-admin/admin.php?page=lop-extra", site=3)
LOG = site_url("wp-admin/admin.php?page=lop-log", site=3)
SETTINGS = site_url("wp-admin/admin.php?page=lop-instellingen", site=3)
SWITCH_BACK = "#wp-admin-bar-lop-sidecar-switch-back"


def _switch_form(page, user_id: int):
    return page.locator(f"form.lop-switch-form:has(input[name='user'][value='{user_id}'])")


def _switch_to_school_admin(page, platform) -> None:
    page.goto(STATS)
    form = _switch_form(page, platform.users["directie.demo"])
    with page.expect_navigation():
        form.get_by_role("button", name="Bekijk als deze schoolbeheerder").click()
    page.locator(SWITCH_BACK).wait_for()


def _editable(platform) -> tuple[dict, str, str]:
    """An offering of the school admin's first school with a field their rights allow now, that field and a new
    value for it (numbers: one more; texts: a fresh text)."""
    school = platform.call("GET", "/api/v1/sites/3/schools", user="directie.demo").json()["schools"][0]
    for year in ("current", "next"):
        response = platform.call("GET", f"/api/v1/sites/3/schools/{school['id']}/offerings?year={year}", user="directie.demo")
        assert response.status_code == 200, response.text
        for offering in response.json()["offerings"]:
            for field in ("free_places", "capacity", "enrolled", "suffix", "extra_info"):
                if field in offering["editable"]:
                    old = offering.get(field)
                    if field in ("suffix", "extra_info"):
                        value = f"via overschakelen {uuid.uuid4().hex[:6]}"
                    else:
                        value = str((old or 0) + 1 if (old or 0) < 900 else 5)
                    return {**offering, "school_id": school["id"], "year": year}, field, value
    raise AssertionError("directie.demo may change nothing now on their first school (Instellingen of site 3)")


def _display_name(page) -> str:
    return page.locator("#wp-admin-bar-my-account .display-name").first.inner_text().strip()


def test_switch_to_a_school_admin_and_back(page, platform):
    login(page, "bert.deskundige")
    expert_name = _display_name(page)
    # only school admins are offered: no switch form names an operator or a LOP expert
    page.goto(STATS)
    offered = {int(v) for v in page.locator("form.lop-switch-form input[name='user']").evaluate_all(
        "inputs => inputs.map(i => i.value)")}
    assert platform.users["directie.demo"] in offered
    assert not offered & {platform.users["operator"], platform.users["bert.deskundige"], platform.users["an.deskundige"]}
    screenshot(page, "switch-school-stats-offer", full_page=False)

    _switch_to_school_admin(page, platform)
    assert "/scheldeland-so/wp-admin/" in page.url, page.url
    assert _display_name(page) != expert_name
    back = page.locator(SWITCH_BACK)
    assert back.inner_text().strip() == f"Terug naar {expert_name}"
    assert page.locator(".lop-switched-notice").is_visible()
    screenshot(page, "switch-admin-bar-switched", full_page=False)
    # the school admin has no Extra menu
    assert page.locator("#toplevel_page_lop-extra").count() == 0

    # edit as the school admin, on their own screen ("Mijn school"): whatever field their rights allow now
    admin_name = _display_name(page)
    offering, field, value = _editable(platform)
    page.goto(site_url(f"wp-admin/admin.php?page=lop-my-school&school={offering['school_id']}&year={offering['year']}", site=3))
    row = page.locator(f"#offering-{offering['id']}")
    row.locator(f"[name='{field}']").fill(value)
    with page.expect_navigation():
        row.locator("button:has-text('Opslaan')").click()
    page.locator(".notice-success").wait_for()
    assert page.locator(SWITCH_BACK).is_visible()
    screenshot(page, "switch-edit-as-school-admin", full_page=False)
    # the account stays the school admin's own: no new password or e-mail set by the person who switched
    page.goto(site_url("wp-admin/profile.php", site=3))
    page.locator("#your-profile").wait_for()
    assert page.locator("#password .wp-generate-pw, #pass1").count() == 0
    assert page.locator("#do_new_application_password").count() == 0  # (without HTTPS: only a notice, anyway)

    with page.expect_navigation():
        page.locator(SWITCH_BACK).locator("a").first.click()
    page.locator("table.lop-school-stats").wait_for()
    assert page.url.startswith(STATS), page.url
    assert _display_name(page) == expert_name
    assert page.locator(SWITCH_BACK).count() == 0
    screenshot(page, "switch-back-at-school-stats", full_page=False)

    # the log names both: the real person and the account used
    page.goto(f"{LOG}&user={platform.users['directie.demo']}")
    first = page.locator("table.lop-log tbody tr").first
    assert first.locator(".lop-log-switched").inner_text().strip() == f"{expert_name} (als {admin_name})"
    assert value in first.inner_text()
    screenshot(page, "switch-log-both-names", full_page=False)


def test_switching_up_is_refused_when_forced(page, platform):
    login(page, "bert.deskundige")
    page.goto(STATS)
    expected = {"operator": "Overschakelen kan enkel naar een schoolbeheerder van deze site.",
                "an.deskundige": "Overschakelen kan enkel naar een schoolbeheerder van deze site.",
                "bert.deskundige": "Je bent al aangemeld met dit account."}
    for target, message in expected.items():
        # (a hidden input's value is its attribute: locate the form by the admin's e-mail, not by that value)
        form = page.locator("li.lop-admin[data-email='directie.demo@example.org'] form.lop-switch-form")
        form.locator("input[name='user']").evaluate("(e, v) => e.value = v", str(platform.users[target]))
        with page.expect_navigation():
            form.get_by_role("button", name="Bekijk als deze schoolbeheerder").click()
        assert page.locator(SWITCH_BACK).count() == 0
        assert page.locator(".notice-error").first.inner_text().strip() == message
    screenshot(page, "switch-refused", full_page=False)

    # the sidecar refuses the same, whoever asks it
    for target in ("operator", "an.deskundige"):
        path = "/api/v1/sites/3/schools"
        headers = sign_headers(platform.secret, "GET", path, user=platform.users[target],
                               switched_from=platform.users["bert.deskundige"])
        response = requests.get(platform.sidecar_url + path, headers=headers, timeout=30)
        assert response.status_code in (403, 404) and response.json()["code"] in ("switch_not_allowed", "forbidden"), response.text


def test_an_expert_of_another_site_linked_as_school_admin_cannot_be_switched_to(page, platform):
    """A switch's login cookie works on every site of the network: bert.deskundige runs site 3, so the expert of
    site 2 who links his address as a school admin there must not be able to become him."""
    schools = platform.call("GET", "/api/v1/sites/2/schools", user="an.deskundige").json()["schools"]
    linked = platform.call("POST", f"/api/v1/sites/2/schools/{schools[0]['id']}/admins", user="an.deskundige",
                           json_body={"email": "bert.deskundige@example.org"})
    assert linked.status_code in (200, 201), linked.text
    try:
        login(page, "an.deskundige")
        page.goto(site_url("wp-admin/admin.php?page=lop-extra", site=2))
        form = _switch_form(page, platform.users["bert.deskundige"])
        with page.expect_navigation():
            form.get_by_role("button", name="Bekijk als deze schoolbeheerder").click()
        assert page.locator(SWITCH_BACK).count() == 0
        assert page.locator(".notice-error").first.inner_text().strip() == (
            "Overschakelen kan niet: deze persoon heeft elders in het netwerk meer rechten dan een schoolbeheerder.")
        page.goto(site_url("wp-admin/", site=2))  # and An is still herself
        assert _display_name(page) == "An Deskundige"
    finally:
        removed = platform.call("DELETE", f"/api/v1/sites/2/schools/{schools[0]['id']}/admins/"
                                f"{platform.users['bert.deskundige']}", user="an.deskundige")
        assert removed.status_code in (200, 204), removed.text


def test_rights_preview_as_a_school_admin_at_a_moment(page, platform):
    """Instellingen > "Rechten bekijken als…": a school admin's rights on one of their schools, now and at a chosen
    moment, as the sidecar evaluates them (GET …/rights?as_user=&at=) — without switching."""
    school = platform.call("GET", "/api/v1/sites/3/schools", user="directie.demo").json()["schools"][0]
    login(page, "bert.deskundige")
    page.goto(SETTINGS)
    with page.expect_navigation():
        page.get_by_role("link", name="Rechten bekijken als…").click()
    page.get_by_label("Schoolbeheerder en school").select_option(f"{platform.users['directie.demo']}:{school['id']}")
    page.get_by_label("Schooljaar").select_option("next")
    with page.expect_navigation():
        page.get_by_role("button", name="Rechten tonen").click()
    table = page.locator("table.lop-rights-table")
    table.wait_for()
    expected = platform.call("GET", f"/api/v1/sites/3/rights?school={school['id']}&year=next&as_user={platform.users['directie.demo']}",
                             user="bert.deskundige").json()
    assert school["name"] in page.locator(".lop-rights-result h3").inner_text()
    for rights_type, evaluation in expected["types"].items():
        cell = table.locator(f"tr[data-type='{rights_type}'] td.lop-rights-granted")
        assert cell.locator("li").count() == len(evaluation["permissions"]), rights_type
    screenshot(page, "rights-preview-now", full_page=False)

    # a moment long after any start this year: the period "after" of the next school year
    page.get_by_label("Moment").fill("2027-06-30T09:00")
    with page.expect_navigation():
        page.get_by_role("button", name="Rechten tonen").click()
    assert "op 30/06/2027 09:00" in page.locator(".lop-rights-result h3").inner_text()
    later = platform.call("GET", f"/api/v1/sites/3/rights?school={school['id']}&year=next&as_user={platform.users['directie.demo']}"
                          "&at=2027-06-30T07:00:00Z", user="bert.deskundige").json()
    for rights_type, evaluation in later["types"].items():
        cell = page.locator(f"table.lop-rights-table tr[data-type='{rights_type}'] td.lop-rights-granted")
        assert cell.locator("li").count() == len(evaluation["permissions"]), rights_type
    screenshot(page, "rights-preview-at-moment", full_page=False)


def test_logging_out_while_switched_ends_both_sessions(page, platform):
    login(page, "bert.deskundige")
    _switch_to_school_admin(page, platform)
    cookies = {c["name"] for c in page.context.cookies()}
    assert "lop_sidecar_switched_from" in cookies
    page.locator("#wp-admin-bar-logout a").evaluate("a => a.click()")  # inside the hover menu of the admin bar
    page.wait_for_url("**/wp-login.php?loggedout=true**")
    assert "lop_sidecar_switched_from" not in {c["name"] for c in page.context.cookies()}
    page.goto(STATS)
    assert "wp-login.php" in page.url, page.url  # neither account is still logged in
