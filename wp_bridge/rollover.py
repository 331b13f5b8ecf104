"""The 1 July free-places snapshot and the yearly rollover of one LOP site (one transaction each)."""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict

from sqlalchemy import Connection, delete, func, literal, select

from rules.offerings import AN_ADMGR, AN_NAME
from rules.rollover import KEPT_FIELDS, SNAPSHOT_KINDS, snapshot_kind
from rules.school_year import next_school_year

from .audit import Actor, Change, write_audit
from .db import utcnow
from .errors import Conflict
from .faults import fault_point
from .options import set_option
from .sites import SCHOOL_YEAR_OPTION
from .tables import NetworkTables, SiteTables

CHUNK = 2000


def snapshot_dates(conn: Connection, t: SiteTables) -> list[tuple[dt.date, str, str, int]]:
    """(date, school year, kind, rows) of every stored snapshot, newest first."""
    s = t.free_places_snapshots
    return [(d, y, snapshot_kind(k, d), n) for d, y, k, n in conn.execute(
        select(s.c.snapshot_date, s.c.school_year, s.c.kind, func.count())
        .group_by(s.c.snapshot_date, s.c.school_year, s.c.kind)
        .order_by(s.c.snapshot_date.desc(), s.c.school_year.desc()))]


def has_snapshot(conn: Connection, t: SiteTables, *, on: dt.date | None = None, school_year: str | None = None) -> bool:
    s = t.free_places_snapshots
    query = select(s.c.id).limit(1)
    if on is not None:
        query = query.where(s.c.snapshot_date == on)
    if school_year is not None:
        query = query.where(s.c.school_year == school_year)
    return conn.execute(query).first() is not None


def take_snapshot(conn: Connection, t: SiteTables, nt: NetworkTables, school_year: str, on: dt.date, kind: str) -> int:
    """Copy the numbers of ``school_year`` as they are now, dated ``on``, of ``kind`` ("1_july", "rollover" or
    "manual"); returns the number of rows stored."""
    if kind not in SNAPSHOT_KINDS:
        raise ValueError(f"unknown snapshot kind {kind!r}")
    o, a, v = t.offerings, nt.admgr, t.vestigingen
    locations = defaultdict(list)
    for school_id, inst, vest in conn.execute(select(v.c.school_id, v.c.instellingsnummer, v.c.vestigingsnummer)
                                              .order_by(v.c.instellingsnummer, v.c.vestigingsnummer)):
        locations[int(school_id)].append([inst, vest])
    now = utcnow()
    rows = [
        {"snapshot_date": on, "school_year": school_year, "school_id": int(school_id), "school_name": name,
         "vestigingen": json.dumps(locations[int(school_id)]), "admgr_code": code,
         "programme": description or (AN_NAME if code == AN_ADMGR else ""), "capacity": capacity,
         "free_places": free, "enrolled": enrolled, "indicator_pct": pct, "suffix": suffix, "taken_at": now,
         "kind": kind}
        for school_id, name, code, description, capacity, free, enrolled, pct, suffix in conn.execute(
            select(o.c.school_id, t.schools.c.name, o.c.admgr_code, a.c.description, o.c.capacity, o.c.free_places,
                   o.c.enrolled, o.c.indicator_pct, o.c.suffix)
            .select_from(o.join(t.schools, t.schools.c.id == o.c.school_id).outerjoin(a, a.c.code == o.c.admgr_code))
            .where(o.c.school_year == school_year).order_by(o.c.school_id, o.c.admgr_code))
    ]
    for start in range(0, len(rows), CHUNK):
        conn.execute(t.free_places_snapshots.insert(), rows[start:start + CHUNK])
    return len(rows)


def year_counts(conn: Connection, t: SiteTables, years: list[str]) -> dict[int, dict[str, int]]:
    """Per school: the number of offerings in each of ``years``."""
    o = t.offerings
    counts: dict[int, dict[str, int]] = {int(s): {y: 0 for y in years}
                                        for (s,) in conn.execute(select(t.schools.c.id))}
    for school_id, year, n in conn.execute(select(o.c.school_id, o.c.school_year, func.count())
                                           .where(o.c.school_year.in_(years)).group_by(o.c.school_id, o.c.school_year)):
        counts.setdefault(int(school_id), {y: 0 for y in years})[year] = n
    return counts


def roll_one_year(conn: Connection, t: SiteTables, site_id: int, prefix: str, old_current: str, actor: Actor) -> dict:
    """Move a site from ``old_current`` to the next school year. Runs inside the caller's transaction:
    everything here is committed, or none of it."""
    new_current = next_school_year(old_current)
    new_next = next_school_year(new_current)
    o = t.offerings
    counts = year_counts(conn, t, [old_current, new_current, new_next])
    if any(c[new_next] for c in counts.values()):
        raise Conflict("rollover_blocked", f"Er bestaan al opleidingen voor {new_next}: verwijder die eerst, "
                                           "dan kan de overgang naar het nieuwe schooljaar.")
    conn.execute(delete(o).where(o.c.school_year == old_current))
    now = utcnow()
    copied = [o.c.school_id, o.c.admgr_code, *[o.c[f] for f in KEPT_FIELDS]]
    conn.execute(o.insert().from_select(
        ["school_id", "admgr_code", *KEPT_FIELDS, "school_year", "version", "created_at", "updated_at"],
        select(*copied, literal(new_next), literal(1), literal(now), literal(now)).where(o.c.school_year == new_current),
    ))
    fault_point("rollover.year_moved")
    set_option(conn, prefix, SCHOOL_YEAR_OPTION, new_current)
    changes = [Change("site", "rollover", entity_id=site_id, field="current_school_year", old=old_current, new=new_current)]
    changes += [
        Change("school", "rollover", entity_id=school_id, school_id=school_id, old={"school_year": old_current},
               new={"school_year": new_current, "removed": c[old_current], "moved": c[new_current],
                    "copied_to_next_cleared": c[new_current], "next_school_year": new_next})
        for school_id, c in sorted(counts.items())
    ]
    write_audit(conn, t, site_id, actor, changes)
    return {"from": old_current, "to": new_current, "next": new_next, "schools": len(counts),
            "removed": sum(c[old_current] for c in counts.values()),
            "moved": sum(c[new_current] for c in counts.values()),
            "per_school": {school_id: {"removed": c[old_current], "moved": c[new_current]}
                           for school_id, c in sorted(counts.items())}}
