"""Rights of school admins per rights type and period (seed feature 1).

A LOP sets, per rights type, the start of free registrations and three permission lists: for the
current school year, and for the next school year before and after that start. Operators and LOP
experts may always do everything; a school admin only on the schools linked to them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from .roles import MANAGERS, Role

PERMISSIONS = (
    "edit_capacity", "edit_free_places", "edit_enrolled", "edit_indicator_pct", "edit_suffix",
    "edit_extra_info", "edit_dates", "add_offering", "remove_offering",
)
ALL_PERMISSIONS = frozenset(PERMISSIONS)
RIGHTS_TYPES = ("BaO", "BuBaO", "SO", "BuSO", "1A/1B")
FIRST_YEAR_TYPE = "1A/1B"
PERIODS = ("current", "next_before", "next_after")

# Which permission an offering field needs.
FIELD_PERMISSIONS = {
    "capacity": "edit_capacity",
    "free_places": "edit_free_places",
    "enrolled": "edit_enrolled",
    "indicator_pct": "edit_indicator_pct",
    "suffix": "edit_suffix",
    "extra_info": "edit_extra_info",
    "dates": "edit_dates",
}


@dataclass(frozen=True)
class RightsSettings:
    """A site's settings: start instants are aware UTC datetimes (or None: not set)."""

    free_registration_start: Mapping[str, dt.datetime | None] = field(
        default_factory=lambda: {t: None for t in RIGHTS_TYPES})
    rights: Mapping[str, Mapping[str, frozenset[str]]] = field(
        default_factory=lambda: {t: {p: frozenset() for p in PERIODS} for t in RIGHTS_TYPES})


@dataclass(frozen=True)
class Evaluation:
    period: str  # "current", "next_before" or "next_after"
    permissions: frozenset[str]
    changes_at: dt.datetime | None  # when this evaluation changes by itself (the free-registration start)


def rights_type(school_type: str, graad: int | None, leerjaar: int | None) -> str:
    """An SO offering of the first year of the first grade (1A or 1B) takes type 1A/1B; every other
    offering takes its school's type."""
    if school_type == "SO" and graad == 1 and leerjaar == 1:
        return FIRST_YEAR_TYPE
    return school_type


def types_of_school(school_type: str) -> tuple[str, ...]:
    """The rights types that can apply to a school's offerings."""
    return ("SO", FIRST_YEAR_TYPE) if school_type == "SO" else (school_type,)


def period_at(year: str, start: dt.datetime | None, now: dt.datetime) -> tuple[str, dt.datetime | None]:
    """The period of ``year`` ("current" or "next") at ``now``, and the instant it changes by itself.
    Exactly at the start instant the period is already "next_after"."""
    if year == "current":
        return "current", None
    if start is None:
        return "next_before", None
    if now < start:
        return "next_before", start
    return "next_after", None


def evaluate(role: Role | None, linked: bool, year: str, rights_type_: str, settings: RightsSettings,
             now: dt.datetime) -> Evaluation:
    if year not in ("current", "next"):
        raise ValueError(f"year must be 'current' or 'next', got {year!r}")
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    period, changes_at = period_at(year, settings.free_registration_start.get(rights_type_), now)
    if role in MANAGERS:
        return Evaluation(period, ALL_PERMISSIONS, None)
    if role is not Role.SCHOOL_ADMIN or not linked:
        return Evaluation(period, frozenset(), None)
    return Evaluation(period, frozenset(settings.rights[rights_type_][period]), changes_at)


# --- reading and writing settings ----------------------------------------------------------------

DATE_TIME_HINT = "Geef een datum en uur als 2027-03-02T09:00."


def parse_local_time(value: str, tz: ZoneInfo) -> dt.datetime:
    """A local wall-clock time (``2022-03-01T09:00``) in ``tz``, or a time with an explicit UTC offset,
    as an aware UTC datetime. A local time that does not exist or is ambiguous at a daylight-saving
    change is refused: it needs an explicit offset."""
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
    except (ValueError, AttributeError):
        raise ValueError(f"{value!r} is geen geldige datum en uur. {DATE_TIME_HINT}") from None
    if "T" not in value:
        raise ValueError(f"{value!r} heeft geen uur. {DATE_TIME_HINT}")
    if parsed.tzinfo is not None:
        return parsed.astimezone(dt.timezone.utc)
    first, second = parsed.replace(tzinfo=tz, fold=0), parsed.replace(tzinfo=tz, fold=1)
    as_utc = first.astimezone(dt.timezone.utc)
    if as_utc.astimezone(tz).replace(tzinfo=None) != parsed:
        raise ValueError(f"{value} bestaat niet in tijdzone {tz.key}: de klok springt dan een uur vooruit. Kies een ander uur.")
    if first.utcoffset() != second.utcoffset():
        raise ValueError(f"{value} komt twee keer voor in tijdzone {tz.key} (de klok gaat dan een uur terug): "
                         "geef het verschil met UTC mee, bv. 2027-10-31T02:30+02:00.")
    return as_utc


def format_local_time(instant: dt.datetime, tz: ZoneInfo) -> str:
    return instant.astimezone(tz).replace(tzinfo=None).isoformat(timespec="minutes")


def settings_from_json(data: object, tz: ZoneInfo) -> tuple[RightsSettings | None, list[dict]]:
    """Validate a settings document as the API receives it; returns (settings, errors) with one error
    ``{"field", "message"}`` per problem, and settings only when there is none."""
    errors: list[dict] = []
    if not isinstance(data, dict):
        return None, [{"field": None, "message": "Verwacht een JSON-object met de instellingen."}]
    for key in data:
        if key not in ("free_registration_start", "rights", "settings_review_required"):
            errors.append({"field": key, "message": "Onbekend veld."})
    starts_in = data.get("free_registration_start")
    rights_in = data.get("rights")
    starts: dict[str, dt.datetime | None] = {}
    rights: dict[str, dict[str, frozenset[str]]] = {}
    if not isinstance(starts_in, dict):
        errors.append({"field": "free_registration_start", "message": "Verplicht: een object met een start per type school."})
    else:
        _check_keys(starts_in, RIGHTS_TYPES, "free_registration_start", errors)
        for type_ in RIGHTS_TYPES:
            value = starts_in.get(type_)
            if value is None:
                starts[type_] = None
            elif not isinstance(value, str):
                errors.append({"field": f"free_registration_start.{type_}", "message": f"Een datum en uur, of leeg (null). {DATE_TIME_HINT}"})
            else:
                try:
                    starts[type_] = parse_local_time(value, tz)
                except ValueError as exc:
                    errors.append({"field": f"free_registration_start.{type_}", "message": str(exc)})
    if not isinstance(rights_in, dict):
        errors.append({"field": "rights", "message": "Verplicht: een object met de rechten per type school."})
    else:
        _check_keys(rights_in, RIGHTS_TYPES, "rights", errors)
        for type_ in RIGHTS_TYPES:
            periods = rights_in.get(type_)
            if periods is None:
                continue  # reported as missing above
            if not isinstance(periods, dict):
                errors.append({"field": f"rights.{type_}", "message": "Een object met current, next_before en next_after."})
                continue
            _check_keys(periods, PERIODS, f"rights.{type_}", errors)
            rights[type_] = {}
            for period in PERIODS:
                listed = periods.get(period)
                if listed is None:
                    continue
                name = f"rights.{type_}.{period}"
                if not isinstance(listed, list) or not all(isinstance(p, str) for p in listed):
                    errors.append({"field": name, "message": "Een lijst van namen van rechten."})
                    continue
                unknown = sorted(set(listed) - ALL_PERMISSIONS)
                if unknown:
                    errors.append({"field": name, "message": f"Onbekend recht: {', '.join(unknown)}."})
                rights[type_][period] = frozenset(listed) & ALL_PERMISSIONS
    if "settings_review_required" in data and not isinstance(data["settings_review_required"], bool):
        errors.append({"field": "settings_review_required", "message": "true of false."})
    if errors:
        return None, errors
    return RightsSettings(starts, rights), []


def _check_keys(given: dict, expected: tuple[str, ...], prefix: str, errors: list[dict]) -> None:
    for key in expected:
        if key not in given:
            errors.append({"field": f"{prefix}.{key}", "message": "Ontbreekt."})
    for key in given:
        if key not in expected:
            errors.append({"field": f"{prefix}.{key}", "message": "Onbekend."})


def settings_to_json(settings: RightsSettings, tz: ZoneInfo) -> dict:
    return {
        "free_registration_start": {
            t: format_local_time(s, tz) if s else None for t, s in settings.free_registration_start.items()
        },
        "free_registration_start_utc": {
            t: s.isoformat().replace("+00:00", "Z") if s else None for t, s in settings.free_registration_start.items()
        },
        "rights": {t: {p: sorted(perms, key=PERMISSIONS.index) for p, perms in periods.items()}
                   for t, periods in settings.rights.items()},
    }


def settings_to_storage(settings: RightsSettings) -> dict:
    """What the site's option stores: UTC instants, sorted permission lists."""
    return {
        "free_registration_start": {
            t: s.astimezone(dt.timezone.utc).isoformat() if s else None for t, s in settings.free_registration_start.items()
        },
        "rights": {t: {p: sorted(perms, key=PERMISSIONS.index) for p, perms in periods.items()}
                   for t, periods in settings.rights.items()},
    }


def settings_from_storage(stored: Mapping | None) -> RightsSettings:
    """Read what settings_to_storage wrote; anything missing falls back to the default (nothing allowed)."""
    defaults = RightsSettings()
    if not stored:
        return defaults
    starts_in = stored.get("free_registration_start") or {}
    rights_in = stored.get("rights") or {}
    starts = {t: dt.datetime.fromisoformat(starts_in[t]) if starts_in.get(t) else None for t in RIGHTS_TYPES}
    rights = {
        t: {p: frozenset((rights_in.get(t) or {}).get(p) or ()) & ALL_PERMISSIONS for p in PERIODS}
        for t in RIGHTS_TYPES
    }
    return RightsSettings(starts, rights)
