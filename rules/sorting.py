"""Display order of programmes (seed feature 10). One key serves the offerings list, the exports and the
public table.

SO and BuSO: onderwijsvorm in the order GSO, ASO, BSO, TSO, HBO, KSO, 999, then any other value
alphabetically, then no value; then graad and leerjaar ascending (no value last); then the name, compared
case- and accent-insensitively; ties broken by the administrative-group code.

Primary education (BaO, BuBaO): nursery first (instapklas, 1ste, 2de, 3de kleuterklas), then primary (1ste to
6de leerjaar), then any other programme, AN (10000) last; within each of these by leerjaar (an instapklas
counts as 0; no value last), name and code.
"""

from __future__ import annotations

from .offerings import AN_ADMGR
from .stages import KLEUTER, LAGER, SECONDARY_SCHOOL_TYPES
from .text import fold

__all__ = ["ONDERWIJSVORM_ORDER", "display_key", "fold", "primary_sort_key", "so_sort_key"]

ONDERWIJSVORM_ORDER = ("GSO", "ASO", "BSO", "TSO", "HBO", "KSO", "999")
_RANK = {value: index for index, value in enumerate(ONDERWIJSVORM_ORDER)}
_STAGE_RANK = {KLEUTER: 0, LAGER: 1}  # then everything else (2), AN last (3)
OTHER_GROUP, AN_GROUP = 2, 3


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


def primary_sort_key(leerjaar: int | None, name: str | None, code: int, stage: str | None = None) -> tuple:
    folded = fold(name)
    group = AN_GROUP if code == AN_ADMGR else _STAGE_RANK.get(stage, OTHER_GROUP)
    if stage == KLEUTER and "instap" in folded:
        leerjaar = 0
    return (group, _number_key(leerjaar), folded, name or "", code)


def display_key(school_type: str, onderwijsvorm: str | None, graad: int | None, leerjaar: int | None,
                name: str | None, code: int, stage: str | None) -> tuple:
    """A programme's place in its school's list: the SO sort for secondary schools, nursery before primary for
    primary ones (``stage`` from the catalogue: rules.stages)."""
    if school_type in SECONDARY_SCHOOL_TYPES:
        return (0, so_sort_key(onderwijsvorm, graad, leerjaar, name, code))
    return (1, primary_sort_key(leerjaar, name, code, stage))
