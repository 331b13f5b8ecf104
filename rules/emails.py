"""E-mail addresses as WordPress stores them (``wp_users.user_email``: at most 100 characters)."""

from __future__ import annotations

import re
import unicodedata

MAX_LENGTH = 100
# Matched whole (fullmatch): "$" alone would let a trailing line break through.
_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+")
_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")


def normalise_email(raw: str) -> str:
    """Trimmed, with the domain in lower case; ValueError (in Dutch, for people) when it is no valid address."""
    value = (raw or "").strip()
    if not value:
        raise ValueError("het e-mailadres ontbreekt")
    if len(value) > MAX_LENGTH:
        raise ValueError(f"het e-mailadres is langer dan {MAX_LENGTH} tekens")
    if value.count("@") != 1:
        raise ValueError("een e-mailadres heeft precies één @")
    local, domain = value.split("@")
    domain = domain.lower()
    if not local or len(local) > 64 or not _LOCAL.fullmatch(local) or local.startswith(".") or local.endswith(".") or ".." in local:
        raise ValueError("het deel vóór de @ is ongeldig")
    labels = domain.split(".")
    if len(labels) < 2 or not all(_LABEL.fullmatch(label) for label in labels) or labels[-1].isdigit():
        raise ValueError("het domein na de @ is ongeldig")
    return f"{local}@{domain}"


# What a LOP expert reads about an invitation (the set-password mail of a new school admin) in each state of
# the outbox: "in wachtrij" until the mail has really been handed to the mail server.
INVITATION_STATUS_TEXT = {
    "pending": "uitnodiging in wachtrij",
    "sent": "uitnodiging verstuurd",
    "failed": "uitnodiging kon niet verstuurd worden",
    "cancelled": "uitnodiging geannuleerd: geen schoolbeheerder meer",
    "expired": "uitnodiging verlopen: niet verstuurd binnen de geldigheid van de link",
}


def login_candidate(email: str) -> str:
    """A WordPress-safe login from an address (as ``sanitize_user(…, true)``), at most 60 characters."""
    local = unicodedata.normalize("NFKD", email.split("@")[0]).encode("ascii", "ignore").decode().lower()
    login = re.sub(r"[^a-z0-9_.@-]", "", local)[:50]
    return login or "schoolbeheerder"


def nicename_candidate(login: str) -> str:
    """``sanitize_title()`` of the login as ``wp_insert_user()`` applies it (``sanitize_title_with_dashes``
    on the first 50 characters): lower case; dots become hyphens; letters, digits, ``_`` and ``-`` stay,
    anything else goes; runs of hyphens collapse and none lead or trail. ``jan_de_smet`` stays itself."""
    title = login[:50].lower().replace(".", "-")
    title = re.sub(r"[^%a-z0-9 _-]", "", title)
    title = re.sub(r"-+", "-", re.sub(r"\s+", "-", title)).strip("-")
    return title or "schoolbeheerder"
