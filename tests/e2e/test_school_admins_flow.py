"""Flow 1 (issue 15): a LOP expert adds a school admin by e-mail in Extra > School stats; the invitation arrives;
the new admin sets a password through its link and logs in (the dashboard opens); the expert removes them again
and School stats no longer lists them."""

from __future__ import annotations

import re
import uuid
from urllib.parse import parse_qs, unquote, urlparse

from .helpers import login, mails_to, screenshot, site_url

STATS = site_url("wp-admin/admin.php?page=lop-extra", site=3)
LINK = re.compile(r"https?://[^\s\"'<>]+wp-login\.php\?action=rp[^\s\"'<>]+")


def test_add_invite_set_password_log_in_and_remove(page, context, platform):
    email = f"nieuw.{uuid.uuid4().hex[:8]}@example.org"
    login(page, "bert.deskundige")
    page.goto(STATS)
    row = page.locator("table.lop-school-stats tbody tr").first
    school = row.locator("td").first.inner_text().strip()
    row.get_by_role("button", name="nieuwe beheerder toevoegen").click()
    dialog = row.locator("dialog")
    dialog.get_by_label("E-mailadres").fill(email)
    screenshot(page, "school-stats-add-dialog", full_page=False)
    with page.expect_navigation():
        dialog.get_by_role("button", name="Toevoegen").click()
    notice = page.locator(".notice-success")
    assert "uitnodiging in wachtrij" in notice.inner_text() and school in notice.inner_text()
    added = page.locator(f"li.lop-admin[data-email='{email}']")
    assert "uitnodiging openstaand" in added.inner_text()
    screenshot(page, "school-stats-admin-added")

    mail = mails_to(email, platform=platform)[0]
    link = LINK.search(mail["text"] or mail["html"]).group(0).replace("&amp;", "&")
    user_login = unquote(parse_qs(urlparse(link).query)["login"][0])

    newcomer = context.browser.new_context(viewport={"width": 1280, "height": 900}, base_url=site_url())
    try:
        other = newcomer.new_page()
        other.goto(link)
        password = "Een-sterk-wachtwoord-" + uuid.uuid4().hex[:10]
        # user-profile.js fills in a suggested password first: wait for it, then type ours
        other.wait_for_function("document.querySelector('#pass1') && document.querySelector('#pass1').value !== ''")
        other.locator("#pass1").fill(password)
        other.locator("#pass-strength-result.strong").wait_for()
        with other.expect_navigation():
            other.locator("#wp-submit").click()
        screenshot(other, "school-admin-password-set", full_page=False)
        assert "wp-login.php?action=resetpass" in other.url or other.locator(".reset-pass").count(), other.url
        login(other, user_login, password, site=3)
        other.locator("#wpadminbar").wait_for()
        assert "/scheldeland-so/wp-admin/" in other.url, other.url
        assert other.locator("#wpbody").is_visible()
        screenshot(other, "school-admin-first-login")
    finally:
        newcomer.close()

    page.goto(STATS)
    added = page.locator(f"li.lop-admin[data-email='{email}']")
    assert "wachtwoord ingesteld" in added.inner_text()
    page.once("dialog", lambda d: d.accept())
    with page.expect_navigation():
        added.get_by_role("button", name="verwijderen").click()
    assert email in page.locator(".notice-success").inner_text()
    assert page.locator(f"li.lop-admin[data-email='{email}']").count() == 0
    screenshot(page, "school-stats-admin-removed")


def test_a_refused_address_is_shown_next_to_the_field(page):
    login(page, "bert.deskundige")
    page.goto(STATS)
    row = page.locator("table.lop-school-stats tbody tr").nth(1)
    row.get_by_role("button", name="nieuwe beheerder toevoegen").click()
    field = row.locator("dialog").get_by_label("E-mailadres")
    field.evaluate("e => e.type = 'text'")  # let the sidecar, not the browser, judge the address
    field.fill("geen-adres")
    with page.expect_navigation():
        row.locator("dialog").get_by_role("button", name="Toevoegen").click()
    dialog = page.locator("table.lop-school-stats tbody tr").nth(1).locator("dialog")
    dialog.locator(".lop-field-error").wait_for()
    assert dialog.evaluate("d => d.open")
    screenshot(page, "school-stats-refused-address", full_page=False)
