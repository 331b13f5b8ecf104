from __future__ import annotations

from flask_smorest import Blueprint
from sqlalchemy import select

from rules.roles import MANAGERS
from rules.rollover import stale_mentions, strip_html
from wp_bridge.tables import core_site_tables

from ..runtime import db
from . import responds, with_site

blp = Blueprint("rollover", __name__, url_prefix="/api/v1", description="After the rollover")


@blp.route("/sites/<int:site_id>/rollover/stale-references")
@with_site(*MANAGERS)
@responds(blp, 200)
def stale_references(site_id, access):
    """Published posts and pages to update after the rollover: each match has a ``kind``: ``older_year`` (a school
    year older than the current one: ``2020-2021``, ``2020 - 2021``, ``20-21``) or ``current_year_called_next``
    (the current year within 40 characters of "volgend schooljaar", "volgend jaar" or "komend schooljaar").
    A report only: WordPress content is never edited."""
    posts = core_site_tables(access.site.prefix).posts
    current = access.site.current_school_year
    found = []
    rows = db().execute(
        select(posts.c.ID, posts.c.post_type, posts.c.post_title, posts.c.post_content)
        .where(posts.c.post_status == "publish", posts.c.post_type.in_(("post", "page")))
        .order_by(posts.c.ID)
    )
    for post_id, post_type, title, content in rows:
        matches = [{**m, "in": "title"} for m in stale_mentions(strip_html(title), current)]
        matches += [{**m, "in": "content"} for m in stale_mentions(strip_html(content), current)]
        if matches:
            found.append({"id": int(post_id), "type": post_type, "title": title,
                          "edit_link": f"{access.site.url}/wp-admin/post.php?post={int(post_id)}&action=edit",
                          "matches": matches})
    return {"school_year": current, "posts": found}
