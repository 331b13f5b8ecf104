"""The e-mails the sidecar sends (Dutch: they go to school admins)."""

from __future__ import annotations

import html

from wp_bridge.school_admins import NewAccount, reset_link
from wp_bridge.sites import WpSite


def welcome_mail(site: WpSite, login_url: str, account: NewAccount, school_names: list[str]) -> tuple[str, str, str]:
    """(subject, text, html) of the mail with which a new school admin sets their password; ``login_url``:
    ``Network.login_url`` (the network's login page, where WordPress's reset form works)."""
    link = reset_link(login_url, account)
    schools = ", ".join(school_names)
    subject = f"Je account als schoolbeheerder op {site.name}"
    text = (
        f"Beste schoolbeheerder,\n\n"
        f"Je bent toegevoegd als schoolbeheerder van {schools} op {site.name} ({site.url}).\n\n"
        f"Je gebruikersnaam: {account.login}\n\n"
        f"Stel je wachtwoord in via deze link (hij is 24 uur geldig):\n{link}\n\n"
        f"Werkt de link niet meer? Vraag dan een nieuwe aan via 'Wachtwoord vergeten' op {login_url}\n\n"
        f"Met vriendelijke groeten,\n{site.name}\n"
    )
    body = (
        f"<p>Beste schoolbeheerder,</p><p>Je bent toegevoegd als schoolbeheerder van {html.escape(schools)} op "
        f"<a href=\"{html.escape(site.url)}\">{html.escape(site.name)}</a>.</p>"
        f"<p>Je gebruikersnaam: <strong>{html.escape(account.login)}</strong></p>"
        f"<p><a href=\"{html.escape(link)}\">Stel je wachtwoord in</a> (de link is 24 uur geldig).</p>"
        f"<p>Met vriendelijke groeten,<br>{html.escape(site.name)}</p>"
    )
    return subject, text, body
