"""Onderwijs Vlaanderen's offering of secondary education (seed feature 6), as pure data rules:
validating the feed's records, mapping its school years, and comparing a school's official offering
(left, green when missing on the site) with the site's (right, red when OV does not list it)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .offerings import AN_ADMGR
from .school_year import label_for_start_year, start_year_of
from .sorting import so_sort_key
from .stages import PRIMARY_STAGES

COVERED_TYPES = ("SO", "BuSO")  # OV has no offering product for primary education
NUMBER_FIELDS = ("capacity", "free_places", "enrolled")  # removing an offering with one of these set asks first


def ov_school_year_label(schooljaar: int) -> str:
    """OV's numeric ``schooljaar`` is the first calendar year of the school year: 2025 -> "2025-2026".
    (Believed from the feed's values; this is the one place to change if that turns out otherwise.)"""
    return label_for_start_year(schooljaar)


def ov_schooljaar(label: str) -> int:
    return start_year_of(label)


class OvRecordError(ValueError):
    pass


@dataclass(frozen=True)
class OvOffering:
    instellingsnummer: int
    vestigingsnummer: int
    code: int
    description: str
    schooljaar: int
    inschrijvingen: bool | None
    financierbaar: bool | None
    begin_date: dt.date | None
    end_date: dt.date | None


def _int(record: Mapping, key: str, where: str) -> int:
    value = record.get(key)
    if isinstance(value, bool) or value is None:
        raise OvRecordError(f"{where}: {key} missing")
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    if isinstance(value, int):
        return value
    raise OvRecordError(f"{where}: {key} is not a number ({value!r})")


def _bool(value) -> bool | None:
    return value if isinstance(value, bool) else None


def _date(record: Mapping, words: tuple[str, ...]) -> dt.date | None:
    """The begin or end date: the feed's exact key is not documented, so any date-valued key naming it."""
    for key, value in record.items():
        if isinstance(value, str) and any(w in key.lower() for w in words):
            try:
                return dt.date.fromisoformat(value[:10])
            except ValueError:
                continue
    return None


def parse_offering(record: object, where: str) -> OvOffering:
    if not isinstance(record, Mapping):
        raise OvRecordError(f"{where}: not an object")
    description = record.get("administratievegroep_omschrijving")
    return OvOffering(
        instellingsnummer=_int(record, "instelling_nummer", where),
        vestigingsnummer=_int(record, "instellingslocatie_vestigingsnummer", where),
        code=_int(record, "administratievegroep_code", where),
        description=description.strip()[:255] if isinstance(description, str) else "",
        schooljaar=_int(record, "schooljaar", where),
        inschrijvingen=_bool(record.get("inschrijvingen")),
        financierbaar=_bool(record.get("financierbaar")),
        begin_date=_date(record, ("begin", "start")),
        end_date=_date(record, ("eind", "einde", "end")),
    )


def _code_of(value) -> str | None:
    if isinstance(value, Mapping):
        value = value.get("code")
    if value is None or isinstance(value, bool):
        return None
    return str(value).strip() or None


def parse_catalogue_entry(record: object, where: str) -> dict:
    """The catalogue fields OV adds to an administrative group (graad, leerjaar, onderwijsvorm, …)."""
    if not isinstance(record, Mapping):
        raise OvRecordError(f"{where}: not an object")
    graad, leerjaar = _code_of(record.get("administratievegroep_graad")), _code_of(record.get("administratievegroep_leerjaar"))
    domein = record.get("administratievegroep_domein")
    return {
        "code": _int(record, "administratievegroep_code", where),
        "graad": int(graad) if graad and graad.isdigit() else None,
        "leerjaar": int(leerjaar) if leerjaar and leerjaar.isdigit() else None,
        "onderwijsvorm": (_code_of(record.get("administratievegroep_onderwijsvorm")) or "").upper()[:20] or None,
        "finaliteit": (_code_of(record.get("administratievegroep_finaliteit")) or "")[:50] or None,
        "domein": (domein.get("omschrijving") if isinstance(domein, Mapping) else None) or None,
        "structuuronderdeel": _code_of(record.get("structuuronderdeel_nummer")),
    }


def enrich(stored: dict | None, entry: dict) -> dict:
    """The catalogue values after adding what OV knows: a stored (AgODi) value is kept unless empty."""
    base = dict(stored or {})
    for key in ("graad", "leerjaar", "onderwijsvorm", "finaliteit", "domein", "structuuronderdeel"):
        if base.get(key) in (None, "") and entry.get(key) not in (None, ""):
            base[key] = entry[key]
    return base


# --- comparison ----------------------------------------------------------------------------------


def ov_codes_for(index: Mapping[tuple[int, int], set[int]], vestigingen: Iterable[tuple[int, int]]) -> set[int]:
    """Every code OV lists for any of a school's vestigingen (a school may combine several)."""
    codes: set[int] = set()
    for location in vestigingen:
        codes |= index.get(tuple(location), set())
    return codes


def outside_ov(code: int, entry: Mapping | None) -> bool:
    """AN (10000) and primary education (a code of stage kleuter or lager) are outside OV's offering data."""
    return code == AN_ADMGR or (entry or {}).get("stage") in PRIMARY_STAGES


def compare_school(school: Mapping, site_codes: Iterable[int], ov_codes: set[int], listed_in_year: set[int],
                   catalogue: Mapping[int, Mapping], ov_names: Mapping[int, str]) -> dict:
    """One school's comparison. ``listed_in_year``: the codes OV lists for any school in the compared school
    year (at least those of ``site_codes``). A site code OV does not list for this school is red (``only_lop``)
    unless it is outside OV's data (``not_covered``: AN, primary education); when OV lists it for no school at
    all that year it most likely no longer exists (``ov_lists_nowhere``). Primary schools are "not covered",
    not all red."""
    base = {"school_id": school["id"], "name": school["name"], "type": school["type"]}
    if school["type"] not in COVERED_TYPES:
        return {**base, "covered": False, "counts": {"both": 0, "only_ov": 0, "only_lop": 0}, "rows": []}
    site_codes = set(site_codes)
    rows = []
    for code in site_codes | ov_codes:
        entry = catalogue.get(code) or {}
        if code in site_codes and code in ov_codes:
            status = "both"
        elif code in ov_codes:
            status = "only_ov"
        elif outside_ov(code, entry):
            status = "not_covered"
        else:
            status = "only_lop"
        rows.append({"code": code, "name": entry.get("description") or ov_names.get(code, ""),
                     "graad": entry.get("graad"), "leerjaar": entry.get("leerjaar"),
                     "onderwijsvorm": entry.get("onderwijsvorm"), "status": status,
                     "ov_lists_nowhere": status == "only_lop" and code not in listed_in_year})
    rows.sort(key=lambda r: so_sort_key(r["onderwijsvorm"], r["graad"], r["leerjaar"], r["name"], r["code"]))
    counts = {s: sum(1 for r in rows if r["status"] == s) for s in ("both", "only_ov", "only_lop")}
    return {**base, "covered": True, "counts": counts, "rows": rows}


def has_numbers(offering: Mapping) -> bool:
    """Whether an offering holds a capacity, free places or enrolled pupils (non-null and non-zero)."""
    return any(offering.get(name) not in (None, 0) for name in NUMBER_FIELDS)


def codes_needing_confirmation(offerings: Iterable[Mapping]) -> list[int]:
    """The codes of the offerings to be removed that hold numbers: removing them needs ``confirm_numbers``."""
    return sorted({int(o["admgr_code"]) for o in offerings if has_numbers(o)})
