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
    """``programmes`` maps a code to ``{"name", "onderwijsvorm", "graad", "leerjaar", "stage"}``. The codes are put
    in display order once per school type; each school's columns are then sorted by that rank."""
    by_school: dict[int, list[Row]] = {}
    for row in rows:
        by_school.setdefault(row[0], []).append(row)
    codes = {row[1] for school_rows in by_school.values() for row in school_rows}
    ranks: dict[str, dict[int, int]] = {}

    def ranks_for(school_type: str) -> dict[int, int]:
        if school_type not in ranks:
            def key(code: int) -> tuple:
                p = programmes.get(code) or {}
                return display_key(school_type, p.get("onderwijsvorm"), p.get("graad"), p.get("leerjaar"),
                                   p.get("name"), code, p.get("stage"))
            ranks[school_type] = {code: rank for rank, code in enumerate(sorted(codes, key=key))}
        return ranks[school_type]

    def first_year(code: int) -> bool:  # only SO schools are shown with the 1A/1B filter
        p = programmes.get(code) or {}
        return rights_type("SO", p.get("graad"), p.get("leerjaar")) == FIRST_YEAR_TYPE

    first_year_codes = {code for code in codes if first_year(code)} if type_filter == FIRST_YEAR_TYPE else set()
    table = []
    for school in schools:
        school_type = school["type"]
        if type_filter == FIRST_YEAR_TYPE:
            if school_type != "SO":
                continue
        elif type_filter is not None and school_type != type_filter:
            continue
        rank = ranks_for(school_type)
        ordered = sorted(by_school.get(school["id"], ()), key=lambda r: rank[r[1]])
        an = next(({"capacity": r[2], "free_places": r[3]} for r in ordered if r[1] == AN_ADMGR), None)
        if type_filter == FIRST_YEAR_TYPE:
            ordered = [r for r in ordered if r[1] in first_year_codes]
        columns = [{"admgr_code": code, "capacity": capacity, "free_places": free, "suffix": suffix,
                    "extra_info": extra_info, "dates": dates or []}
                   for _school, code, capacity, free, suffix, extra_info, dates in ordered if code != AN_ADMGR]
        table.append({"id": school["id"], "name": school["name"], "type": school_type,
                      "vestigingen": school["vestigingen"], "columns": columns, "an": an})
    return table
