"""Schools of a LOP site and their vestigingen (official locations)."""

from __future__ import annotations

import functools
from collections.abc import Iterable

from sqlalchemy import Connection, bindparam, delete, func, select, tuple_

from rules.schools import format_instellingsnummer

from .audit import Actor, Change, write_audit
from .db import run_fixed, utcnow
from .errors import Conflict, NotFound
from .offerings import deletion, programme_names
from .tables import NetworkTables, SiteTables

Vestiging = tuple[int, int]  # (instellingsnummer, vestigingsnummer)


def _vestiging_json(instellingsnummer: int, vestigingsnummer: int) -> dict:
    return {
        "instellingsnummer": instellingsnummer,
        "vestigingsnummer": vestigingsnummer,
        "instellingsnummer_text": format_instellingsnummer(instellingsnummer),
    }


@functools.lru_cache(maxsize=256)
def _schools_query(t: SiteTables, filtered: bool):
    s, v = t.schools, t.vestigingen
    query = (
        select(s.c.id, s.c.name, s.c.type, s.c.created_at, s.c.updated_at, v.c.instellingsnummer, v.c.vestigingsnummer)
        .select_from(s.outerjoin(v, v.c.school_id == s.c.id))
        .order_by(s.c.name, s.c.id, v.c.instellingsnummer, v.c.vestigingsnummer)
    )
    return query.where(s.c.id.in_(bindparam("ids", expanding=True))) if filtered else query


def list_schools(conn: Connection, t: SiteTables, only_ids: Iterable[int] | None = None) -> list[dict]:
    """Schools in name order, each with its vestigingen in number order, in one query whatever the number of
    schools. Every request that shows schools runs this: rows are unpacked by position, not by name."""
    if only_ids is None:
        rows = run_fixed(conn, _schools_query(t, False))
    else:
        ids = list(only_ids)
        if not ids:
            return []
        rows = conn.execute(_schools_query(t, True), {"ids": ids}).all()
    schools: list[dict] = []
    last_id = None
    for school_id, name, school_type, created_at, updated_at, instellingsnummer, vestigingsnummer in rows:
        if school_id != last_id:
            last_id = school_id
            schools.append({"id": int(school_id), "name": name, "type": school_type, "vestigingen": [],
                            "created_at": created_at.isoformat() + "Z", "updated_at": updated_at.isoformat() + "Z"})
        if instellingsnummer is not None:
            schools[-1]["vestigingen"].append(_vestiging_json(instellingsnummer, vestigingsnummer))
    return schools


def get_school(conn: Connection, t: SiteTables, school_id: int) -> dict | None:
    found = list_schools(conn, t, [school_id])
    return found[0] if found else None


def require_school(conn: Connection, t: SiteTables, school_id: int) -> dict:
    school = get_school(conn, t, school_id)
    if school is None:
        raise NotFound("school_not_found", f"School {school_id} bestaat niet op deze site.")
    return school


def linked_school_ids(conn: Connection, t: SiteTables, user_id: int) -> set[int]:
    rows = conn.execute(select(t.school_admins.c.school_id).where(t.school_admins.c.user_id == user_id))
    return {int(school_id) for (school_id,) in rows}


def _check_vestigingen_free(conn: Connection, t: SiteTables, vestigingen: list[Vestiging], school_id: int | None):
    """A vestiging belongs to one school of a site: name the school that already has it."""
    if not vestigingen:
        return
    rows = conn.execute(
        select(t.vestigingen.c.instellingsnummer, t.vestigingen.c.vestigingsnummer, t.schools.c.id, t.schools.c.name)
        .join(t.schools, t.schools.c.id == t.vestigingen.c.school_id)
        .where(tuple_(t.vestigingen.c.instellingsnummer, t.vestigingen.c.vestigingsnummer).in_(vestigingen))
    ).all()
    taken = [row for row in rows if school_id is None or int(row[2]) != school_id]
    if taken:
        inst, vest, other_id, other_name = taken[0]
        raise Conflict(
            "vestiging_taken",
            f"Vestiging {format_instellingsnummer(inst)}-{vest} hoort al bij school {other_id} ({other_name}).",
        )


def create_school(conn: Connection, t: SiteTables, site_id: int, actor: Actor, *, name: str, type: str,
                  vestigingen: list[Vestiging]) -> dict:
    _check_vestigingen_free(conn, t, vestigingen, None)
    now = utcnow()
    school_id = conn.execute(t.schools.insert().values(name=name, type=type, created_at=now, updated_at=now)).inserted_primary_key[0]
    school_id = int(school_id)
    if vestigingen:
        conn.execute(
            t.vestigingen.insert(),
            [{"school_id": school_id, "instellingsnummer": i, "vestigingsnummer": v} for i, v in vestigingen],
        )
    school = require_school(conn, t, school_id)
    write_audit(conn, t, site_id, actor, [
        Change("school", "create", entity_id=school_id, school_id=school_id, new=_audit_view(school),
               school_name=school["name"]),
    ])
    return school


def update_school(conn: Connection, t: SiteTables, site_id: int, actor: Actor, school_id: int, *,
                  name: str | None = None, type: str | None = None,
                  vestigingen: list[Vestiging] | None = None) -> dict:
    before = require_school(conn, t, school_id)
    changes: list[Change] = []
    values: dict = {}
    if name is not None and name != before["name"]:
        values["name"] = name
        changes.append(Change("school", "update", school_id, school_id, "name", before["name"], name))
    if type is not None and type != before["type"]:
        values["type"] = type
        changes.append(Change("school", "update", school_id, school_id, "type", before["type"], type))
    if vestigingen is not None:
        old = sorted((v["instellingsnummer"], v["vestigingsnummer"]) for v in before["vestigingen"])
        new = sorted(vestigingen)
        if old != new:
            _check_vestigingen_free(conn, t, new, school_id)
            conn.execute(delete(t.vestigingen).where(t.vestigingen.c.school_id == school_id))
            conn.execute(
                t.vestigingen.insert(),
                [{"school_id": school_id, "instellingsnummer": i, "vestigingsnummer": v} for i, v in new],
            )
            changes.append(Change("school", "update", school_id, school_id, "vestigingen",
                                  [list(x) for x in old], [list(x) for x in new]))
    if not changes:
        return before
    values["updated_at"] = utcnow()
    conn.execute(t.schools.update().where(t.schools.c.id == school_id).values(**values))
    write_audit(conn, t, site_id, actor, changes)
    return require_school(conn, t, school_id)


def delete_school(conn: Connection, t: SiteTables, nt: NetworkTables, site_id: int, actor: Actor, school_id: int, *,
                  force: bool = False) -> None:
    """Delete a school. One with offerings is refused unless ``force``; its offerings' numbers are then
    kept in the log (one row per offering) so nothing is lost without a trace."""
    school = require_school(conn, t, school_id)
    offerings = conn.execute(
        select(t.offerings).where(t.offerings.c.school_id == school_id).order_by(t.offerings.c.id)
    ).mappings().all()
    if offerings and not force:
        raise Conflict(
            "school_has_offerings",
            f"School {school_id} heeft nog {len(offerings)} opleidingen: verwijder die eerst, of bevestig met force=true.",
        )
    admins = conn.execute(
        select(func.count()).select_from(t.school_admins).where(t.school_admins.c.school_id == school_id)
    ).scalar_one()
    names = programme_names(conn, nt, [o["admgr_code"] for o in offerings])
    changes = [deletion(o, school_id, names) for o in offerings]
    changes.append(Change("school", "delete", school_id, school_id,
                          old={**_audit_view(school), "admins_unlinked": admins}))
    for table in (t.offerings, t.school_admins, t.vestigingen):
        conn.execute(delete(table).where(table.c.school_id == school_id))
    conn.execute(delete(t.schools).where(t.schools.c.id == school_id))
    write_audit(conn, t, site_id, actor, changes, school_names={school_id: school["name"]})


def _audit_view(school: dict) -> dict:
    return {
        "name": school["name"],
        "type": school["type"],
        "vestigingen": [[v["instellingsnummer"], v["vestigingsnummer"]] for v in school["vestigingen"]],
    }
