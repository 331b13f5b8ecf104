"""The audit log as people read it: Dutch words for the codes the log stores (actions, sources, roles,
entities, fields, permissions) and its stored values as readable Dutch text. One mapping table for every
download of the log; the JSON API keeps the codes. Pure: no I/O."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from .rights import PERIODS, RIGHTS_TYPES
from .schools import format_instellingsnummer
from .wording import moment

ACTIONS = {
    "create": "toegevoegd",
    "add": "toegevoegd",
    "update": "gewijzigd",
    "delete": "verwijderd",
    "remove": "verwijderd",
    "restore_role": "rol hersteld",
    "rollover": "overgang schooljaar",
    "review_done": "nagekeken",
    "enable": "ingeschakeld",
    "disable": "uitgeschakeld",
}

# "api": through the LOP site (the WordPress plugin); job names as the scheduler and the buttons run them.
SOURCES = {
    "api": "website",
    "cli": "opdrachtregel",
    "import": "import",
    "ov-sync": "Onderwijs Vlaanderen-sync",
    "agodi-sync": "AgODi-sync",
    "rollover": "overgang schooljaar",
    "free-places-snapshot": "momentopname vrije plaatsen",
    "site-purge": "opruiming site",
    "mail-outbox": "e-mailverzending",
    "prune-nonces": "onderhoud",
    "prune-job-runs": "onderhoud",
}

ROLES = {
    "operator": "beheerder",
    "lop_expert": "LOP-deskundige",
    "school_admin": "schoolbeheerder",
    "system": "systeem",
    "site": "site",
}

ENTITIES = {
    "offering": "aanbod",
    "school": "school",
    "school_admin": "schoolbeheerder",
    "settings": "instellingen",
    "site": "site",
}

PERMISSIONS = {
    "edit_capacity": "capaciteit wijzigen",
    "edit_free_places": "vrije plaatsen wijzigen",
    "edit_enrolled": "zittende leerlingen wijzigen",
    "edit_indicator_pct": "percentage indicatorleerlingen wijzigen",
    "edit_suffix": "achtervoegsel wijzigen",
    "edit_extra_info": "extra info wijzigen",
    "edit_dates": "datums wijzigen",
    "add_offering": "opleiding toevoegen",
    "remove_offering": "opleiding verwijderen",
}

_PERIODS = {
    "current": "lopend schooljaar",
    "next_before": "volgend schooljaar, vóór de start van de vrije inschrijvingen",
    "next_after": "volgend schooljaar, vanaf de start van de vrije inschrijvingen",
}

# Fields of log rows and keys inside their stored values.
FIELDS = {
    "capacity": "capaciteit",
    "free_places": "vrije plaatsen",
    "enrolled": "zittende leerlingen",
    "indicator_pct": "percentage indicatorleerlingen",
    "suffix": "achtervoegsel",
    "extra_info": "extra info",
    "dates": "datums",
    "name": "naam",
    "type": "type",
    "vestigingen": "vestigingen",
    "school_year": "schooljaar",
    "admgr_code": "administratieve groep",
    "user_id": "gebruiker-ID",
    "email": "e-mailadres",
    "account_created": "nieuw account",
    "role": "rol",
    "role_removed": "rol op de site afgenomen",
    "admins_unlinked": "ontkoppelde schoolbeheerders",
    "current_school_year": "lopend schooljaar",
    "next_school_year": "volgend schooljaar",
    "removed": "opleidingen verwijderd",
    "moved": "opleidingen naar het lopend schooljaar",
    "copied_to_next_cleared": "opleidingen gekopieerd naar het volgend schooljaar (cijfers leeggemaakt)",
    "automatic_rollover": "automatische overgang schooljaar",
    "settings_review_required": "instellingen nakijken",
    **{f"free_registration_start.{t}": f"start vrije inschrijvingen {t}" for t in RIGHTS_TYPES},
    **{f"rights.{t}.{p}": f"rechten schoolbeheerders {t}, {_PERIODS[p]}" for t in RIGHTS_TYPES for p in PERIODS},
}

_BOOLEAN_FIELDS = frozenset({"automatic_rollover", "settings_review_required"})
_JSON_FIELDS = frozenset({"dates", "vestigingen"})


def word(table: dict[str, str], code: str | None) -> str | None:
    """The Dutch word for a code; an unknown code as it is (never hidden)."""
    if code is None:
        return None
    return table.get(code, code)


def readable(field: str | None, text: str | None, tz) -> str | None:
    """A stored old or new value (``wp_bridge.audit.as_text``) as Dutch text. ``field`` says what it is: values
    of a named field are shown as typed (a suffix ``[1]`` stays ``[1]``) except where the field holds structured
    data; a value without a field is the whole record (creations, deletions, the rollover)."""
    if text is None or text == "":
        return text
    if field is None or field in _JSON_FIELDS or field.startswith("rights."):
        try:
            value = json.loads(text)
        except ValueError:
            return text
        return _value(field, value, tz)
    if field.startswith("free_registration_start."):
        try:
            return moment(dt.datetime.fromisoformat(text), tz)
        except ValueError:
            return text
    if field in _BOOLEAN_FIELDS:
        return {"true": "ja", "false": "nee"}.get(text, text)
    if field == "indicator_pct":
        return text.replace(".", ",")
    return text


def _value(key: str | None, value: Any, tz) -> str:
    if value is None:
        return "leeg"
    if isinstance(value, bool):
        return "ja" if value else "nee"
    if key is not None and key.startswith("rights.") and isinstance(value, list):
        return ", ".join(PERMISSIONS.get(str(p), str(p)) for p in value) or "geen rechten"
    if key == "vestigingen" and isinstance(value, list):
        return ", ".join(_vestiging(v) for v in value) or "geen"
    if key == "dates" and isinstance(value, list):
        return ", ".join(_date(d) for d in value) or "geen"
    if key == "indicator_pct" and isinstance(value, (int, float, str)):
        return str(value).replace(".", ",")
    if key == "role" and isinstance(value, str):
        return "schoolbeheerder" if value in ("school_admin", "schoolbeheerder") else value
    if isinstance(value, dict):
        return "; ".join(f"{FIELDS.get(k, k)}: {_value(k, v, tz)}" for k, v in value.items() if v is not None)
    if isinstance(value, list):
        return ", ".join(_value(None, v, tz) for v in value)
    return str(value)


def _vestiging(pair) -> str:
    if isinstance(pair, list) and len(pair) == 2 and all(isinstance(n, int) for n in pair):
        return f"{format_instellingsnummer(pair[0])}-{pair[1]}"
    return str(pair)


def _date(item) -> str:
    if isinstance(item, dict):
        try:
            day = dt.date.fromisoformat(str(item.get("date"))).strftime("%d/%m/%Y")
        except ValueError:
            day = str(item.get("date"))
        return f"{item['label']} {day}" if item.get("label") else day
    return str(item)
