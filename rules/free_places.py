"""The public free-places table (pure): per school in name order, its programmes in display order with
capacity and free places, and the AN column of primary schools that offer it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from .offerings import AN_ADMGR
from .rights import FIRST_YEAR_TYPE, rights_type
from .sorting import display_key

# (school_id, admgr_code, capacity, free_places, suffix, extra_info, dates) — dates as a parsed list
Row = tuple[int, int, int | None, int | None, str | None, str | None, list | None]


def build_table(schools: Iterable[dict], rows: Iterable[Row], programmes: Mapping[int, dict],
                type_filter: str | None) -> list[dict]:
    """``programmes`` maps a code to ``{"name", "onderwijsvorm", "graad", "leerjaar"}``. The sort key of a
    code is computed once, not once per school."""
    keys: dict[tuple[str, int], tuple] = {}

    def key(school_type: str, code: int) -> tuple:
        cached = keys.get((school_type, code))
        if cached is None:
            p = programmes.get(code) or {}
            cached = keys[(school_type, code)] = display_key(
                school_type, p.get("onderwijsvorm"), p.get("graad"), p.get("leerjaar"), p.get("name"), code)
        return cached

    by_school: dict[int, list[Row]] = {}
    for row in rows:
        by_school.setdefault(row[0], []).append(row)
    table = []
    for school in schools:
        school_type = school["type"]
        if type_filter == FIRST_YEAR_TYPE:
            if school_type != "SO":
                continue
        elif type_filter is not None and school_type != type_filter:
            continue
        columns, an = [], None
        for _school, code, capacity, free, suffix, extra_info, dates in sorted(
                by_school.get(school["id"], ()), key=lambda r: key(school_type, r[1])):
            if code == AN_ADMGR:
                an = {"capacity": capacity, "free_places": free}
                continue
            if type_filter == FIRST_YEAR_TYPE:
                p = programmes.get(code) or {}
                if rights_type(school_type, p.get("graad"), p.get("leerjaar")) != FIRST_YEAR_TYPE:
                    continue
            columns.append({"admgr_code": code, "capacity": capacity, "free_places": free, "suffix": suffix,
                            "extra_info": extra_info, "dates": dates or []})
        table.append({"id": school["id"], "name": school["name"], "type": school_type,
                      "vestigingen": school["vestigingen"], "columns": columns, "an": an})
    return table
