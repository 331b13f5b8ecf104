"""School-year arithmetic.

A school year is labelled ``YYYY-YYYY+1``. On a given local date the current school year is the one
that started on the last switch day (1 August by default); the next school year follows it.
"""

from __future__ import annotations

import datetime as dt
import re

DEFAULT_SWITCH_DAY = (8, 1)  # (month, day)

_LABEL = re.compile(r"^(\d{4})-(\d{4})$")


def label_for_start_year(start_year: int) -> str:
    return f"{start_year}-{start_year + 1}"


def start_year_of(label: str) -> int:
    """The first calendar year of a label; ValueError when the label is not ``YYYY-YYYY+1``."""
    match = _LABEL.match(label or "")
    if not match or int(match.group(2)) != int(match.group(1)) + 1:
        raise ValueError(f"not a school-year label (expected YYYY-YYYY+1): {label!r}")
    return int(match.group(1))


def is_label(value: str) -> bool:
    try:
        start_year_of(value)
    except ValueError:
        return False
    return True


def current_school_year(on: dt.date, switch_day: tuple[int, int] = DEFAULT_SWITCH_DAY) -> str:
    """The label of the school year that is current on the local date ``on``."""
    started_this_calendar_year = (on.month, on.day) >= switch_day
    return label_for_start_year(on.year if started_this_calendar_year else on.year - 1)


def switch_date(label: str, switch_day: tuple[int, int] = DEFAULT_SWITCH_DAY) -> dt.date:
    """The day on which school year ``label`` gives way to the next: the switch day in the calendar year in
    which it ends (2027-08-01 for 2026-2027; a 02-29 switch day is 02-28 in other years)."""
    year, (month, day) = start_year_of(label) + 1, switch_day
    try:
        return dt.date(year, month, day)
    except ValueError:
        return dt.date(year, month, day - 1)


def next_school_year(label: str) -> str:
    return label_for_start_year(start_year_of(label) + 1)


def parse_switch_day(value: str) -> tuple[int, int]:
    """Parse ``MM-DD`` (e.g. ``08-01``); ValueError when it is no valid day of a leap year."""
    match = re.fullmatch(r"(\d{2})-(\d{2})", value or "")
    if not match:
        raise ValueError(f"expected MM-DD, got {value!r}")
    month, day = int(match.group(1)), int(match.group(2))
    dt.date(2000, month, day)  # raises ValueError for 02-30, 13-01, …
    return month, day


def resolve_year(value: str | None, current_label: str) -> tuple[str, str]:
    """``current``, ``next`` or one of those two labels → (kind, label). ValueError for anything else."""
    next_label = next_school_year(current_label)
    if value in (None, "", "current", current_label):
        return "current", current_label
    if value in ("next", next_label):
        return "next", next_label
    if is_label(value or "") and start_year_of(value) < start_year_of(current_label):
        raise ValueError(f"Schooljaar {value} is afgesloten: het bestaat enkel nog als export van de vrije plaatsen "
                         "zoals ze op 1 juli stonden (Export > Momentopnamen 1 juli).")
    raise ValueError(f"Kies het lopende schooljaar (current, {current_label}) of het volgende (next, {next_label}).")
