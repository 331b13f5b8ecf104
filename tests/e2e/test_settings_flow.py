"""Flow 3 (issue 15, "Tests in CI"): the LOP expert opens Extra > Instellingen, changes a permission and a
free-registration start, saves, reloads: both kept (in the page and in the sidecar). A time that does not exist in
Brussels (the hour the clock skips in March) is refused: the sidecar's Dutch message stands next to that field,
the form keeps what was typed, and nothing is stored."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from .helpers import login, screenshot, site_url

SITE = 3
TYPE = "SO"
PERMISSION = "edit_suffix"
PERIOD = "next_before"


def last_sunday_of_march(year: int) -> dt.date:
    day = dt.date(year, 3, 31)
    return day - dt.timedelta(days=(day.weekday() + 1) % 7)


def test_expert_changes_a_permission_and_a_start_time(platform, page):
    url = site_url("wp-admin/admin.php?page=lop-instellingen", site=SITE)
    stored = platform.call("GET", f"/api/v1/sites/{SITE}/settings", user="bert.deskundige").json()
    login(page, "bert.deskundige")
    page.goto(url)
    start = page.locator(f'input[name="start[{TYPE}]"]')
    start.wait_for()
    box = page.locator(f'input[name="rights[{TYPE}][{PERIOD}][]"][value="{PERMISSION}"]')
    assert start.input_value() == (stored["free_registration_start"][TYPE] or "")
    assert box.is_checked() == (PERMISSION in stored["rights"][TYPE][PERIOD])
    screenshot(page, "settings-expert")

    # a new start (a day after the stored one, or next year's 2 March) and the permission toggled
    year = dt.date.today().year + 1
    old = stored["free_registration_start"][TYPE]
    new_start = (dt.datetime.fromisoformat(old) + dt.timedelta(days=1, minutes=30) if old
                 else dt.datetime(year, 3, 2, 9, 0)).strftime("%Y-%m-%dT%H:%M")
    was_checked = box.is_checked()
    start.fill(new_start)
    box.set_checked(not was_checked)
    with page.expect_navigation():
        page.get_by_role("button", name="Instellingen bewaren").click()
    assert "De instellingen zijn bewaard." in page.locator(".notice-success").inner_text()
    page.reload()
    start = page.locator(f'input[name="start[{TYPE}]"]')
    box = page.locator(f'input[name="rights[{TYPE}][{PERIOD}][]"][value="{PERMISSION}"]')
    assert start.input_value() == new_start
    assert box.is_checked() == (not was_checked)
    saved = platform.call("GET", f"/api/v1/sites/{SITE}/settings", user="bert.deskundige").json()
    assert saved["free_registration_start"][TYPE] == new_start
    assert (PERMISSION in saved["rights"][TYPE][PERIOD]) == (not was_checked)
    screenshot(page, "settings-expert-saved")

    # a time the clock skips (02:30 on the last Sunday of March) is refused, next to its field, nothing stored
    skipped = f"{last_sunday_of_march(year + 1):%Y-%m-%d}T02:30"
    start.fill(skipped)
    with page.expect_navigation():
        page.get_by_role("button", name="Instellingen bewaren").click()
    assert page.locator(".notice-error").count() == 1
    message = page.locator(f"#lop-type-{TYPE} .lop-field-error")
    assert message.count() == 1 and "bestaat niet" in message.inner_text(), message.all_inner_texts()
    assert page.locator(f'input[name="start[{TYPE}]"]').input_value() == skipped  # what was typed stays
    assert page.locator(".lop-field-error").count() == 1  # only next to that field
    screenshot(page, "settings-expert-bad-time")
    after = platform.call("GET", f"/api/v1/sites/{SITE}/settings", user="bert.deskundige").json()
    assert after["free_registration_start"][TYPE] == new_start


def test_review_banner_after_a_rollover_and_the_an_screen(platform, page):
    """On the BaO site (site 2): the "kijk je instellingen na" banner as a rollover leaves it (its reasons, a page
    that still names an old school year, with its edit link); then Extra > AN adds AN to one school."""
    import sqlalchemy as sa

    from rules.rollover import review_reasons
    from wp_bridge.settings import request_review

    from .helpers import STATE

    url = dict(line.split("=", 1) for line in (STATE / "env.sh").read_text().replace("export ", "").split()
               if line.startswith("LOP_DATABASE_URL="))["LOP_DATABASE_URL"].strip("'")
    engine = sa.create_engine(url)
    label = next(s for s in platform.call("GET", "/api/v1/sites").json()["sites"] if s["id"] == 2)["current_school_year"]
    old = f"{int(label[:4]) - 3}-{int(label[:4]) - 2}"
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0, tzinfo=None)
    with engine.begin() as conn:
        request_review(conn, "wp_2_", review_reasons(label, {"BaO": dt.datetime(2020, 3, 2, 8, tzinfo=dt.timezone.utc)},
                                                     dt.datetime.now(dt.timezone.utc), ZoneInfo("Europe/Brussels")))
        conn.execute(sa.text(
            "INSERT INTO wp_2_posts (post_author, post_date, post_date_gmt, post_content, post_title, post_excerpt, "
            "post_status, comment_status, ping_status, post_password, post_name, to_ping, pinged, post_modified, "
            "post_modified_gmt, post_content_filtered, post_parent, guid, menu_order, post_type, post_mime_type, "
            "comment_count) VALUES (1, :now, :now, :content, :title, '', 'publish', 'closed', 'closed', '', "
            "'inschrijven-e2e', '', '', :now, :now, '', 0, '', 0, 'page', '', 0)"),
            {"now": now, "title": f"Inschrijven voor {old}", "content": f"<p>De vrije plaatsen voor {old} staan hieronder.</p>"})
    login(page, "an.deskundige")
    page.goto(site_url("wp-admin/admin.php?page=lop-instellingen", site=2))
    banner = page.locator(".lop-settings-review")
    banner.wait_for()
    assert f"Het schooljaar {label} is nu het lopende schooljaar" in banner.inner_text()
    link = banner.get_by_role("link", name=f"Inschrijven voor {old}")
    assert "post.php?post=" in (link.get_attribute("href") or "")
    screenshot(page, "settings-review-banner", full_page=False)

    page.goto(site_url("wp-admin/admin.php?page=lop-an", site=2))
    table = page.locator("table.lop-an")
    table.wait_for()
    screenshot(page, "an-expert")
    row = table.locator("tr[data-school]").filter(has=page.get_by_role("button", name="AN toevoegen")).first
    name = row.locator("td").first.inner_text()
    with page.expect_navigation():
        row.get_by_role("button", name="AN toevoegen").click()
    notice = page.locator(".notice-success").inner_text()
    assert "AN toegevoegd:" in notice and name in notice, notice
    row = page.locator("table.lop-an tr[data-school]").filter(has_text=name)
    assert row.locator("td.lop-an-missing").count() == 0
    assert row.get_by_role("button", name="AN toevoegen").count() == 0
    screenshot(page, "an-expert-added")
