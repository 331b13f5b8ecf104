"""Flow 4 (issue 16): the LOP expert (bert.deskundige, site 3) switches to a school admin (directie.demo) from
Extra > School stats, edits as that admin through the sidecar, switches back with "Terug naar …" in the admin bar,
and the Logbestand names both ("Bert … (als …)"). Switching to an operator or a LOP expert is not offered, and
refused when forced — by WordPress (the plugin) and by the sidecar. Plus "Rechten bekijken als…" on Instellingen."""

from __future__ import annotations

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

    with page.expect_navigation():
        back.locator("a").first.click()
    page.locator("table.lop-school-stats").wait_for()
    assert page.url.startswith(STATS), page.url
    assert _display_name(page) == expert_name
    assert page.locator(SWITCH_BACK).count() == 0
    screenshot(page, "switch-back-at-school-stats", full_page=False)


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
