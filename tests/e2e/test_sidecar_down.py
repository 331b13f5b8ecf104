"""The Extra screens with the sidecar stopped (issue 15): every screen still renders, inside WordPress's admin,
with "De LOP-service is tijdelijk niet bereikbaar." — never a PHP error or an empty page — and works again as
soon as the sidecar is back."""

from __future__ import annotations

from .helpers import login, screenshot, sidecar_stopped, site_url

UNREACHABLE = "De LOP-service is tijdelijk niet bereikbaar."
# the screens that show the sidecar's data (Import shows only its forms until a file is sent)
SCREENS = ["lop-extra", "lop-export", "lop-log", "lop-ov", "lop-instellingen", "lop-synchronisaties"]


def test_every_extra_screen_says_the_service_is_unreachable(page, platform):
    login(page, "bert.deskundige")
    with sidecar_stopped(platform):
        for slug in SCREENS:
            response = page.goto(site_url(f"wp-admin/admin.php?page={slug}", site=3))
            assert response.status == 200, (slug, response.status)
            page.locator("#wpfooter").wait_for(state="attached")  # the whole admin page, menu and footer
            assert page.locator("#toplevel_page_lop-extra").is_visible(), slug
            assert UNREACHABLE in page.locator(".wrap.lop-sidecar").inner_text(), slug
            if slug == "lop-extra":
                screenshot(page, "sidecar-down-school-stats", full_page=False)
    page.goto(site_url("wp-admin/admin.php?page=lop-extra", site=3))
    assert page.locator("table.lop-school-stats").is_visible()  # back as soon as the sidecar is
    assert UNREACHABLE not in page.locator(".wrap.lop-sidecar").inner_text()
