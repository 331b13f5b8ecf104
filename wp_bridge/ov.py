"""The stored snapshot of Onderwijs Vlaanderen's offering (network level) and what it is compared with."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from sqlalchemy import Connection, and_, delete, func, or_, select

from rules.ov import OvOffering, codes_needing_confirmation, compare_school, enrich, ov_codes_for
from rules.stages import SECUNDAIR, catalogue_stage

from .audit import Change, offering_ref, write_audit
from .catalogue import fold_words, upsert
from .db import utcnow
from .errors import Conflict
from .faults import fault_point
from .offerings import deletion, programme_names
from .schools import list_schools
from .tables import NetworkTables

CHUNK = 5000
ENRICHED = ("graad", "leerjaar", "onderwijsvorm", "finaliteit", "domein", "structuuronderdeel")


def snapshot_count(conn: Connection, nt: NetworkTables) -> int:
    return conn.execute(select(func.count()).select_from(nt.ov_offerings)).scalar_one()


def snapshot_time(conn: Connection, nt: NetworkTables) -> dt.datetime | None:
    return conn.execute(select(func.max(nt.ov_offerings.c.fetched_at))).scalar_one()


def replace_snapshot(conn: Connection, nt: NetworkTables, offerings: list[OvOffering]) -> None:
    """Inside the caller's transaction: the old snapshot goes and the new one comes, or neither."""
    now = utcnow()
    conn.execute(delete(nt.ov_offerings))
    rows = [{"instellingsnummer": o.instellingsnummer, "vestigingsnummer": o.vestigingsnummer, "admgr_code": o.code,
             "description": o.description, "schooljaar": o.schooljaar, "inschrijvingen": o.inschrijvingen,
             "financierbaar": o.financierbaar, "begin_date": o.begin_date, "end_date": o.end_date, "fetched_at": now}
            for o in offerings]
    for start in range(0, len(rows), CHUNK):
        conn.execute(nt.ov_offerings.insert(), rows[start:start + CHUNK])
        fault_point("ov.snapshot_chunk")


def load_index(conn: Connection, nt: NetworkTables, schooljaar: int, *, locations: list[tuple[int, int]] | None = None,
               codes: set[int] | None = None) -> tuple[dict, set[int], dict[int, str]]:
    """((instellingsnummer, vestigingsnummer) -> codes) for one school year, the codes OV lists for any school in
    that school year, and OV's description of each code. With ``locations`` (one school) only those rows are
    read, and of the codes OV lists in that year only those among ``codes`` (the school's own) are looked up."""
    o = nt.ov_offerings
    index: dict[tuple[int, int], set[int]] = defaultdict(set)
    names: dict[int, str] = {}
    listed: set[int] = set()
    rows = select(o.c.instellingsnummer, o.c.vestigingsnummer, o.c.admgr_code, o.c.description, o.c.schooljaar)
    if locations is not None:
        listed = listed_codes(conn, nt, schooljaar, codes or set())
        if not locations:
            return index, listed, names
        # OR of pairs rather than a row-constructor IN: MariaDB uses the location index only for the former
        rows = rows.where(or_(*[and_(o.c.instellingsnummer == inst, o.c.vestigingsnummer == vest)
                                for inst, vest in sorted(set(locations))]))
    for inst, vest, code, description, year in conn.execute(rows):
        names.setdefault(code, description)
        if year == schooljaar:
            listed.add(code)
            index[(inst, vest)].add(code)
    return index, listed, names


def listed_codes(conn: Connection, nt: NetworkTables, schooljaar: int, codes: set[int]) -> set[int]:
    """Which of ``codes`` OV lists for any school in ``schooljaar`` (one query over the whole snapshot)."""
    if not codes:
        return set()
    o = nt.ov_offerings
    return set(conn.execute(select(o.c.admgr_code).distinct().where(
        o.c.schooljaar == schooljaar, o.c.admgr_code.in_(sorted(codes)))).scalars())


def has_year(conn: Connection, nt: NetworkTables, schooljaar: int) -> bool:
    """Whether the snapshot lists anything for ``schooljaar`` (without, every site code would look red)."""
    o = nt.ov_offerings
    return conn.execute(select(o.c.id).where(o.c.schooljaar == schooljaar).limit(1)).first() is not None


def index_from(offerings: list[OvOffering], schooljaar: int) -> tuple[dict, set[int], dict[int, str]]:
    """The same as load_index, from fetched records (a dry run compares without storing)."""
    index: dict[tuple[int, int], set[int]] = defaultdict(set)
    names: dict[int, str] = {}
    for o in offerings:
        names.setdefault(o.code, o.description)
        if o.schooljaar == schooljaar:
            index[(o.instellingsnummer, o.vestigingsnummer)].add(o.code)
    return index, {o.code for o in offerings if o.schooljaar == schooljaar}, names


def catalogue_info(conn: Connection, nt: NetworkTables, codes: set[int] | None = None) -> dict[int, dict]:
    """Catalogue entries by code: all of them, or only ``codes``."""
    a = nt.admgr
    query = select(a.c.code, a.c.description, a.c.graad, a.c.leerjaar, a.c.onderwijsvorm, a.c.finaliteit, a.c.domein,
                   a.c.structuuronderdeel, a.c.stage, a.c.onderwijsniveau)
    if codes is not None:
        query = query.where(a.c.code.in_(sorted(codes)))
    return {row.code: {"description": row.description, "graad": row.graad, "leerjaar": row.leerjaar,
                       "onderwijsvorm": row.onderwijsvorm, "finaliteit": row.finaliteit, "domein": row.domein,
                       "structuuronderdeel": row.structuuronderdeel,
                       "stage": row.stage or catalogue_stage(row.code, row.onderwijsniveau, row.description,
                                                                  row.structuuronderdeel)}
            for row in conn.execute(query)}


def enrich_catalogue(conn: Connection, nt: NetworkTables, entries: list[dict], names: dict[int, str], *,
                     write: bool) -> dict:
    """Fill in what OV knows (graad, leerjaar, onderwijsvorm, finaliteit, domein) where the catalogue is empty;
    codes the catalogue lacks are added with OV's description. Counts like the AgODi sync."""
    a = nt.admgr
    stored = catalogue_info(conn, nt)
    added, updated, unchanged = [], [], 0
    for entry in entries:
        current = stored.get(entry["code"])
        new = enrich(current, entry)
        if current is None:
            description = names.get(entry["code"]) or f"Administratieve groep {entry['code']}"
            added.append({"code": entry["code"], "description": description, "onderwijsniveau": "SO", "stage": SECUNDAIR,
                          **{k: new.get(k) for k in ENRICHED}})
        elif any(new.get(k) != current.get(k) for k in ENRICHED):
            updated.append({"code": entry["code"], "description": current["description"],
                            **{k: new.get(k) for k in ENRICHED}})
        else:
            unchanged += 1
    if write:
        now = utcnow()
        if added:
            conn.execute(a.insert(), [{**row, "active": True, "updated_at": now,
                                       "search_text": fold_words(row["description"])} for row in added])
        upsert(conn, a, [{**row, "updated_at": now} for row in updated], [*ENRICHED, "updated_at"])
    return {"in_feed": len(entries), "added": len(added), "updated": len(updated), "unchanged": unchanged}


def school_inputs(conn: Connection, t, label: str, school_id: int | None = None) -> tuple[list[dict], dict[int, set[int]]]:
    """The schools (all, or one) and their offering codes in the school year ``label``."""
    schools = list_schools(conn, t, None if school_id is None else [school_id])
    o = t.offerings
    site_codes: dict[int, set[int]] = defaultdict(set)
    query = select(o.c.school_id, o.c.admgr_code).where(o.c.school_year == label)
    if school_id is not None:
        query = query.where(o.c.school_id == school_id)
    for school, code in conn.execute(query):
        site_codes[int(school)].add(code)
    return schools, site_codes


def compare_schools(schools: list[dict], site_codes: dict[int, set[int]], catalogue: dict, index: dict,
                    listed: set[int], names: dict[int, str]) -> list[dict]:
    return [
        compare_school(school, site_codes[school["id"]],
                       ov_codes_for(index, [(v["instellingsnummer"], v["vestigingsnummer"]) for v in school["vestigingen"]]),
                       listed, catalogue, names)
        for school in schools
    ]


def site_comparison(conn: Connection, t, catalogue: dict, index: dict, listed: set[int], names: dict[int, str],
                    label: str) -> list[dict]:
    """The comparison of every school of a site for the school year ``label``."""
    schools, site_codes = school_inputs(conn, t, label)
    return compare_schools(schools, site_codes, catalogue, index, listed, names)


class OfferingHasNumbers(Conflict):
    """Removing offerings that still hold numbers was asked without ``confirm_numbers``."""

    def __init__(self, codes: list[int]):
        super().__init__("offering_has_numbers",
                         "Deze opleidingen hebben nog een capaciteit, vrije plaatsen of zittende leerlingen: "
                         f"{', '.join(map(str, codes))}. Bevestig dat je ze met hun cijfers wilt verwijderen.")
        self.codes = codes


def _removed_rows(conn: Connection, t, school_id: int, label: str, remove: list[int]) -> list:
    o = t.offerings
    if not remove:
        return []
    return conn.execute(select(o).where(o.c.school_id == school_id, o.c.school_year == label,
                                        o.c.admgr_code.in_(remove)).order_by(o.c.id)).mappings().all()


def removal_needs_confirmation(conn: Connection, t, school_id: int, label: str, remove: list[int]) -> list[int]:
    """The codes among ``remove`` whose offering holds numbers (what a dry run reports, and apply checks)."""
    return codes_needing_confirmation(_removed_rows(conn, t, school_id, label, remove))


def apply_changes(conn: Connection, t, site_id: int, actor, school_id: int, label: str, add: list[int],
                  remove: list[int], *, nt: NetworkTables, confirm_numbers: bool = False) -> None:
    """Add programmes (with empty numbers) and remove programmes of one school, with their log rows (the
    removed numbers included). Removing one that holds numbers without ``confirm_numbers`` raises
    OfferingHasNumbers before anything is written."""
    o = t.offerings
    now = utcnow()
    changes = []
    names = programme_names(conn, nt, [*add, *remove])
    gone = _removed_rows(conn, t, school_id, label, remove)
    unconfirmed = codes_needing_confirmation(gone)
    if unconfirmed and not confirm_numbers:
        raise OfferingHasNumbers(unconfirmed)
    if gone:
        conn.execute(delete(o).where(o.c.id.in_([row["id"] for row in gone])))
        changes += [deletion(row, school_id, names) for row in gone]
    if add:
        conn.execute(o.insert(), [{"school_id": school_id, "school_year": label, "admgr_code": code, "version": 1,
                                   "created_at": now, "updated_at": now} for code in add])
        created = conn.execute(select(o.c.id, o.c.admgr_code).where(
            o.c.school_id == school_id, o.c.school_year == label, o.c.admgr_code.in_(add))).all()
        changes += [Change("offering", "create", int(i), school_id, new={"school_year": label, "admgr_code": code},
                           offering=offering_ref(i, code, names.get(int(code)), label))
                    for i, code in created]
    write_audit(conn, t, site_id, actor, changes)
