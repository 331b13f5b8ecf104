"""The numbers and texts of an offering (one programme-year of a school in one school year)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from .rights import FIELD_PERMISSIONS

AN_ADMGR = 10000  # anderstalige nieuwkomers: a pseudo-programme of primary schools, shown as column AN
AN_NAME = "Anderstalige nieuwkomers"

EDITABLE_FIELDS = tuple(FIELD_PERMISSIONS)
COUNT_MAX = 100_000
SUFFIX_MAX = 100
EXTRA_INFO_MAX = 2000
DATES_MAX = 20
DATE_LABEL_MAX = 100


def validate_values(values: dict) -> tuple[dict, list[dict]]:
    """Check and normalise the editable fields given; returns (clean values, errors per field).
    ``None`` clears a field."""
    clean: dict = {}
    errors: list[dict] = []

    def fail(name: str, message: str) -> None:
        errors.append({"field": name, "message": message})

    for name, value in values.items():
        if name not in EDITABLE_FIELDS:
            fail(name, "unknown field")
        elif value is None and name == "dates":
            fail(name, "geen null: [] wist de datums")  # documented as a list, never null
        elif value is None:
            clean[name] = None
        elif name in ("capacity", "free_places", "enrolled"):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= COUNT_MAX:
                fail(name, f"a whole number from 0 to {COUNT_MAX}")
            else:
                clean[name] = value
        elif name == "indicator_pct":
            pct = _percentage(value)
            if pct is None:
                fail(name, "a number from 0 to 100 with at most 2 decimals")
            else:
                clean[name] = pct
        elif name in ("suffix", "extra_info"):
            limit = SUFFIX_MAX if name == "suffix" else EXTRA_INFO_MAX
            if not isinstance(value, str) or len(value) > limit:
                fail(name, f"text of at most {limit} characters")
            else:
                clean[name] = value.strip() or None
        elif name == "dates":
            dates, message = _dates(value)
            if message:
                fail(name, message)
            else:
                clean[name] = dates
    return clean, errors


def _percentage(value) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        pct = Decimal(str(value))
    except InvalidOperation:
        return None
    if not pct.is_finite() or not Decimal(0) <= pct <= Decimal(100) or pct.as_tuple().exponent < -2:
        return None
    return pct.quantize(Decimal("0.01"))


def _dates(value) -> tuple[list[dict] | None, str | None]:
    if not isinstance(value, list) or len(value) > DATES_MAX:
        return None, f"a list of at most {DATES_MAX} dates"
    result = []
    for index, item in enumerate(value):
        if isinstance(item, str):
            item = {"date": item}
        if not isinstance(item, dict) or set(item) - {"date", "label"}:
            return None, f"[{index}]: an ISO date or {{\"date\": \"YYYY-MM-DD\", \"label\": \"…\"}}"
        try:
            day = dt.date.fromisoformat(item.get("date") or "")
        except (TypeError, ValueError):
            return None, f"[{index}].date: not an ISO date (YYYY-MM-DD)"
        label = item.get("label")
        if label is not None and (not isinstance(label, str) or len(label) > DATE_LABEL_MAX):
            return None, f"[{index}].label: text of at most {DATE_LABEL_MAX} characters"
        result.append({"date": day.isoformat(), "label": (label or "").strip() or None})
    return result, None
