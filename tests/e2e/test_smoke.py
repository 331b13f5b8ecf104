"""The rig itself: logging in through wp-login.php, the dashboard, and the plugin's Extra menu for the people it
is for (a LOP expert) and not for the others (a school admin)."""

from .helpers import login, screenshot, site_url


def test_lop_expert_sees_the_dashboard_and_the_extra_menu(page):
    login(page, "bert.deskundige")
    assert page.url.startswith(site_url("wp-admin/", site=3)), page.url
    page.locator("#dashboard-widgets").wait_for()
    assert page.locator("#toplevel_page_lop-extra").is_visible()
    screenshot(page, "smoke-expert-dashboard")


def test_school_admin_has_no_extra_menu(page):
    login(page, "directie.demo")
    page.goto(site_url("wp-admin/", site=3))
    page.locator("#adminmenu").wait_for()
    assert page.locator("#toplevel_page_lop-extra").count() == 0
    screenshot(page, "smoke-school-admin-dashboard")


def test_operator_reaches_the_network_admin(page):
    login(page, "operator")
    page.goto(site_url("wp-admin/network/"))
    page.locator("#wpadminbar").wait_for()
    assert "Network Admin" in page.title() or "Netwerkbeheer" in page.title(), page.title()
    screenshot(page, "smoke-network-admin")
