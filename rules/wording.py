"""Dutch words for what people read: offering fields, permissions and moments. The API's machine codes
stay English; its ``detail`` and field messages use these (the WordPress plugin shows them as they are)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

# An offering field as a sentence names it ("Je mag … nu niet wijzigen").
FIELD_NAMES = {
    "capacity": "de capaciteit",
    "free_places": "het aantal vrije plaatsen",
    "enrolled": "het aantal zittende leerlingen",
    "indicator_pct": "het indicatorpercentage",
    "suffix": "het achtervoegsel",
    "extra_info": "de extra informatie",
    "dates": "de data",
}

_REFUSALS = {
    "add_offering": "Je mag nu geen opleiding toevoegen",
    "remove_offering": "Je mag deze opleiding nu niet verwijderen",
    **{f"edit_{name}": f"Je mag {label} nu niet wijzigen" for name, label in FIELD_NAMES.items()},
}


def refusal(permission: str) -> str:
    """The sentence (without its full stop) that refuses a permission."""
    return _REFUSALS.get(permission, f"Je mag dit nu niet ({permission})")


def field_list(names: list[str]) -> str:
    """"de capaciteit, het aantal vrije plaatsen en de data"."""
    labels = [FIELD_NAMES.get(name, name) for name in names]
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " en " + labels[-1]


def moment(instant: dt.datetime, tz: ZoneInfo) -> str:
    """A moment as Flemish readers write it, in local time: 20/12/2026 09:00."""
    return instant.astimezone(tz).strftime("%d/%m/%Y %H:%M")
