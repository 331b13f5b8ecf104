"""Offerings of a LOP site's schools: one row per school, school year and administrative group."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from decimal import Decimal

from sqlalchemy import Connection, String, bindparam, cast, exists, func, select, union_all

from rules import sorting
from rules.offerings import AN_ADMGR, AN_NAME, EDITABLE_FIELDS
from rules.rights import rights_type

from .audit import Actor, Change, offering_ref, write_audit
from .db import run_fixed, utcnow
from .errors import Conflict, DataError, NotFound
from .tables import NetworkTables, SiteTables


class VersionConflict(DataError):
    status = 412


@functools.lru_cache(maxsize=256)
def _offerings_query(t: SiteTables, nt: NetworkTables, by: str):
    o, a = t.offerings, nt.admgr
    query = (
        select(o, a.c.description, a.c.onderwijsvorm, a.c.graad, a.c.leerjaar, a.c.stage,
               t.schools.c.type.label("school_type"), t.schools.c.name.label("school_name"))
        .select_from(o.join(t.schools, t.schools.c.id == o.c.school_id).outerjoin(a, a.c.code == o.c.admgr_code))
    )
    if by == "school":
        return query.where(o.c.school_id == bindparam("school_id"), o.c.school_year == bindparam("year"))
    if by == "id":
        return query.where(o.c.id == bindparam("offering_id"))
    if by == "id_for_user":  # and whether the user is an admin of the offering's school, in the same round trip
        admins = t.school_admins
        linked = exists().where(admins.c.school_id == o.c.school_id, admins.c.user_id == bindparam("user_id"))
        return query.add_columns(linked.label("user_is_linked")).where(o.c.id == bindparam("offering_id"))
    return query.where(o.c.school_year == bindparam("year"))  # the whole site


def _json(row) -> dict:
    pct = row.indicator_pct
    return {
        "id": int(row.id),
        "school_id": int(row.school_id),
        "school_year": row.school_year,
        "admgr_code": row.admgr_code,
        "name": row.description or (AN_NAME if row.admgr_code == AN_ADMGR else ""),
        "type": rights_type(row.school_type, row.graad, row.leerjaar),
        "onderwijsvorm": row.onderwijsvorm,
        "graad": row.graad,
        "leerjaar": row.leerjaar,
        "stage": row.stage,
        "capacity": row.capacity,
        "free_places": row.free_places,
        "enrolled": row.enrolled,
        "indicator_pct": float(pct) if pct is not None else None,
        "suffix": row.suffix,
        "extra_info": row.extra_info,
        "dates": json.loads(row.dates) if row.dates else [],
        "version": row.version,
        "school_name": row.school_name,  # for the log (not part of the API's offering)
    }


def display_key(offering: dict, school_type: str):
    """An offering's place in its school's list (rules.sorting.display_key)."""
    return sorting.display_key(school_type, offering["onderwijsvorm"], offering["graad"], offering["leerjaar"],
                               offering["name"], offering["admgr_code"], offering["stage"])


def school_offerings(conn: Connection, t: SiteTables, nt: NetworkTables, school_id: int, year: str,
                     school_type: str) -> list[dict]:
    rows = conn.execute(_offerings_query(t, nt, "school"), {"school_id": school_id, "year": year})
    return sorted((_json(r) for r in rows), key=lambda o: display_key(o, school_type))


def get_offering(conn: Connection, t: SiteTables, nt: NetworkTables, school_id: int, offering_id: int,
                 linked_user: int | None = None) -> dict:
    """One offering of a school. With ``linked_user``, its ``user_is_linked`` says whether that user is an
    admin of the school (for a school admin's rights, without a query of their own)."""
    if linked_user is None:
        row = conn.execute(_offerings_query(t, nt, "id"), {"offering_id": offering_id}).first()
    else:
        row = conn.execute(_offerings_query(t, nt, "id_for_user"), {"offering_id": offering_id, "user_id": linked_user}).first()
    if row is None or int(row.school_id) != school_id:
        raise NotFound("offering_not_found", f"Opleiding {offering_id} bestaat niet bij school {school_id}.")
    offering = _json(row)
    if linked_user is not None:
        offering["user_is_linked"] = bool(row.user_is_linked)
    return offering


def _stored(name: str, value):
    if name == "dates":
        return json.dumps(value, ensure_ascii=False) if value else None
    return value


def _comparable(name: str, value):
    if name == "indicator_pct" and value is not None:
        return Decimal(str(value)).quantize(Decimal("0.01"))
    if name == "dates":
        return value or []
    return value


@functools.lru_cache(maxsize=512)
def _update_statement(t: SiteTables, fields: tuple[str, ...]):
    """The optimistic UPDATE of some fields, built once per set of fields (building it cost as much as
    running it)."""
    o = t.offerings
    return (o.update()
            .where(o.c.id == bindparam("offering_id"), o.c.version == bindparam("expected_version"))
            .values(**{name: bindparam(f"new_{name}") for name in fields}, version=o.c.version + 1,
                    updated_at=bindparam("now")))


def update_offering(conn: Connection, t: SiteTables, nt: NetworkTables, site_id: int, actor: Actor,
                   current: dict, values: dict, expected_version: int | None) -> dict:
    """Change some fields of one offering, all or nothing, with one audit row per changed field.
    ``expected_version`` (from If-Match) makes a concurrent change fail with 412 instead of being
    overwritten."""
    changed = {name: value for name, value in values.items()
               if _comparable(name, value) != _comparable(name, current[name])}
    version = current["version"] if expected_version is None else expected_version
    if not changed:
        if version != current["version"]:
            raise VersionConflict("version_mismatch", "Iemand anders heeft deze opleiding intussen gewijzigd. Laad ze opnieuw.")
        return current
    result = conn.execute(_update_statement(t, tuple(changed)),
                          {"offering_id": current["id"], "expected_version": version, "now": utcnow(),
                           **{f"new_{name}": _stored(name, value) for name, value in changed.items()}})
    if result.rowcount != 1:
        raise VersionConflict("version_mismatch", "Iemand anders heeft deze opleiding intussen gewijzigd. Laad ze opnieuw.")
    ref = _ref(current)
    write_audit(conn, t, site_id, actor, [
        Change("offering", "update", current["id"], current["school_id"], name,
               _audit_value(name, current[name]), _audit_value(name, value), offering=ref,
               school_name=current.get("school_name"))
        for name, value in changed.items()
    ])
    shown = {name: float(value) if name == "indicator_pct" and value is not None else value
             for name, value in changed.items()}
    return {**current, **shown, "dates": shown.get("dates", current["dates"]) or [], "version": version + 1}


def _ref(offering: dict) -> dict:
    """The log's reference to an offering as the API shows it (``_json``)."""
    return offering_ref(offering["id"], offering["admgr_code"], offering["name"], offering["school_year"])


def programme_names(conn: Connection, nt: NetworkTables, codes: Iterable[int]) -> dict[int, str]:
    """The catalogue's names of some administrative groups (AN's own name for 10000), in one query."""
    codes = sorted(set(codes))
    a = nt.admgr
    names = {int(c): d for c, d in conn.execute(select(a.c.code, a.c.description).where(a.c.code.in_(codes)))} if codes else {}
    if AN_ADMGR in codes:
        names.setdefault(AN_ADMGR, AN_NAME)
    return names


def _audit_value(name: str, value):
    if name == "indicator_pct" and value is not None:
        return str(Decimal(str(value)).quantize(Decimal("0.01")))
    return value


def add_offering(conn: Connection, t: SiteTables, nt: NetworkTables, site_id: int, actor: Actor,
                 school: dict, year: str, code: int, values: dict) -> dict:
    exists = conn.execute(select(t.offerings.c.id).where(
        t.offerings.c.school_id == school["id"], t.offerings.c.school_year == year, t.offerings.c.admgr_code == code)).first()
    if exists:
        raise Conflict("offering_exists", f"{school['name']} biedt administratieve groep {code} al aan in {year}.")
    now = utcnow()
    offering_id = int(conn.execute(t.offerings.insert().values(
        school_id=school["id"], school_year=year, admgr_code=code,
        **{name: _stored(name, value) for name, value in values.items()},
        version=1, created_at=now, updated_at=now,
    )).inserted_primary_key[0])
    created = get_offering(conn, t, nt, school["id"], offering_id)
    write_audit(conn, t, site_id, actor, [Change("offering", "create", offering_id, school["id"], new={
        "school_year": year, "admgr_code": code, **{n: _audit_value(n, v) for n, v in values.items()}},
        offering=_ref(created), school_name=school.get("name"))])
    return created


def deletion(row, school_id: int, names: dict[int, str]) -> Change:
    """The log row of an offering deleted with its school or by the OV apply: every number it had. ``names``:
    the programme names of the codes (``programme_names``)."""
    return Change("offering", "delete", int(row["id"]), school_id,
                  old={k: row[k] for k in ("school_year", "admgr_code", *EDITABLE_FIELDS)},
                  offering=offering_ref(row["id"], row["admgr_code"], names.get(int(row["admgr_code"])), row["school_year"]))


def delete_offering(conn: Connection, t: SiteTables, site_id: int, actor: Actor, current: dict,
                    expected_version: int | None) -> None:
    o = t.offerings
    query = o.delete().where(o.c.id == current["id"])
    if expected_version is not None:
        query = query.where(o.c.version == expected_version)
    if conn.execute(query).rowcount != 1:
        raise VersionConflict("version_mismatch", "Iemand anders heeft deze opleiding intussen gewijzigd. Laad ze opnieuw.")
    write_audit(conn, t, site_id, actor, [Change("offering", "delete", current["id"], current["school_id"], old={
        "school_year": current["school_year"], "admgr_code": current["admgr_code"],
        **{name: _audit_value(name, current[name]) for name in EDITABLE_FIELDS}}, offering=_ref(current),
        school_name=current.get("school_name"))])


def add_an(conn: Connection, t: SiteTables, site_id: int, actor: Actor, school_ids: Iterable[int],
           years: list[str]) -> dict[int, dict[str, int]]:
    """Add programme 10000 (AN) for each school and year that lacks it; counts per school."""
    school_ids = list(school_ids)
    present = {
        (int(s), y) for s, y in conn.execute(
            select(t.offerings.c.school_id, t.offerings.c.school_year).where(
                t.offerings.c.admgr_code == AN_ADMGR, t.offerings.c.school_id.in_(school_ids),
                t.offerings.c.school_year.in_(years)))
    } if school_ids else set()
    counts = {school_id: {"added": 0, "already_present": 0} for school_id in school_ids}
    now = utcnow()
    rows = []
    for school_id in school_ids:
        for year in years:
            if (school_id, year) in present:
                counts[school_id]["already_present"] += 1
            else:
                counts[school_id]["added"] += 1
                rows.append({"school_id": school_id, "school_year": year, "admgr_code": AN_ADMGR, "version": 1,
                             "created_at": now, "updated_at": now})
    if rows:
        conn.execute(t.offerings.insert(), rows)
        added = {(row["school_id"], row["school_year"]) for row in rows}
        stored = conn.execute(select(t.offerings.c.id, t.offerings.c.school_id, t.offerings.c.school_year).where(
            t.offerings.c.admgr_code == AN_ADMGR, t.offerings.c.school_id.in_(school_ids),
            t.offerings.c.school_year.in_(years))).all()
        write_audit(conn, t, site_id, actor, [
            Change("offering", "create", int(i), int(s), new={"school_year": y, "admgr_code": AN_ADMGR},
                   offering=offering_ref(i, AN_ADMGR, AN_NAME, y))
            for i, s, y in stored if (int(s), y) in added
        ])
    return counts


def site_offerings(conn: Connection, t: SiteTables, nt: NetworkTables, year: str) -> list[dict]:
    """Every offering of the site in one school year, with all fields (for exports)."""
    return [_json(r) for r in conn.execute(_offerings_query(t, nt, "site"), {"year": year})]


@functools.lru_cache(maxsize=256)
def _public_query(t: SiteTables):
    o = t.offerings
    return select(o.c.school_id, o.c.admgr_code, o.c.capacity, o.c.free_places, o.c.suffix, o.c.extra_info,
                  o.c.dates).where(o.c.school_year == bindparam("year"))


def public_rows(conn: Connection, t: SiteTables, nt: NetworkTables, year: str) -> tuple[list[tuple], dict[int, dict]]:
    """What the public table shows of one school year: the offerings as plain tuples (school_id, code,
    capacity, free_places, suffix, extra_info, dates) and the catalogue entries of their codes. Only
    the columns it shows are read: this is the hottest read of registration week."""
    result = conn.execute(_public_query(t), {"year": year})
    fetched = result.cursor.fetchall()  # plain driver tuples: SQLAlchemy rows cost more than the rest here
    result.close()
    parsed: dict[str, list] = {}  # many offerings share their dates: parse each text once
    rows = [row if not row[6] else (*row[:6], parsed.get(row[6]) or parsed.setdefault(row[6], json.loads(row[6])))
            for row in fetched]
    codes = {row[1] for row in rows}
    a = nt.admgr
    programmes = {
        code: {"name": name, "onderwijsvorm": vorm, "graad": graad, "leerjaar": leerjaar, "stage": stage}
        for code, name, vorm, graad, leerjaar, stage in conn.execute(
            select(a.c.code, a.c.description, a.c.onderwijsvorm, a.c.graad, a.c.leerjaar, a.c.stage)
            .where(a.c.code.in_(codes)))
    } if codes else {}
    if AN_ADMGR in codes and AN_ADMGR not in programmes:
        programmes[AN_ADMGR] = {"name": AN_NAME, "onderwijsvorm": None, "graad": None, "leerjaar": None, "stage": None}
    return rows, programmes


def data_version(conn: Connection, t: SiteTables, nt: NetworkTables) -> str:
    """Changes whenever anything the public tables show may have changed: every change of LOP data writes
    an audit row (so the newest audit id moves) and catalogue syncs touch ``updated_at``."""
    latest = [version for (version,) in run_fixed(conn, _data_version_query(t, nt))]
    return ":".join(str(v) for v in latest)


@functools.lru_cache(maxsize=256)
def _data_version_query(t: SiteTables, nt: NetworkTables):
    """Built once per site: building it cost more than running it, on every 304 of the public table."""
    return union_all(
        select(cast(func.coalesce(func.max(t.audit_log.c.id), 0), String).label("v")),
        select(func.coalesce(cast(func.max(nt.admgr.c.updated_at), String), "").label("v")),
    )
