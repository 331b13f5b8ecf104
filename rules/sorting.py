"""Display order of programmes (seed feature 10).

SO: onderwijsvorm in the order GSO, ASO, BSO, TSO, HBO, KSO, 999, then any other value alphabetically,
then no value; then graad and leerjaar ascending (no value last); then the name, compared case- and
accent-insensitively; ties broken by the administrative-group code. Primary education: leerjaar, then
name and code.
"""

from __future__ import annotations

import unicodedata

ONDERWIJSVORM_ORDER = ("GSO", "ASO", "BSO", "TSO", "HBO", "KSO", "999")
_RANK = {value: index for index, value in enumerate(ONDERWIJSVORM_ORDER)}


def fold(text: str | None) -> str:
    """Case- and accent-insensitive form of a name."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _number_key(value: int | None) -> tuple[int, int]:
    return (0, value) if value is not None else (1, 0)


def so_sort_key(onderwijsvorm: str | None, graad: int | None, leerjaar: int | None, name: str | None,
                code: int) -> tuple:
    vorm = (onderwijsvorm or "").strip()
    if vorm in _RANK:
        vorm_key = (0, _RANK[vorm], "")
    elif vorm:
        vorm_key = (1, 0, vorm.casefold())
    else:
        vorm_key = (2, 0, "")
    return (vorm_key, _number_key(graad), _number_key(leerjaar), fold(name), name or "", code)


def primary_sort_key(leerjaar: int | None, name: str | None, code: int) -> tuple:
    return (_number_key(leerjaar), fold(name), name or "", code)


SECONDARY_TYPES = ("SO", "BuSO")


def display_key(school_type: str, onderwijsvorm: str | None, graad: int | None, leerjaar: int | None,
                name: str | None, code: int) -> tuple:
    """A programme's place in its school's list: the SO sort for secondary schools, leerjaar order for
    primary ones."""
    if school_type in SECONDARY_TYPES:
        return (0, so_sort_key(onderwijsvorm, graad, leerjaar, name, code))
    return (1, primary_sort_key(leerjaar, name, code))
