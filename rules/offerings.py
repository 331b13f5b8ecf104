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
            fail(name, "Onbekend veld.")
        elif value is None and name == "dates":
            fail(name, "Geen null: een lege lijst [] wist de data.")  # documented as a list, never null
        elif value is None:
            clean[name] = None
        elif name in ("capacity", "free_places", "enrolled"):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= COUNT_MAX:
                fail(name, f"Een geheel getal van 0 tot en met {COUNT_MAX}.")
            else:
                clean[name] = value
        elif name == "indicator_pct":
            pct = _percentage(value)
            if pct is None:
                fail(name, "Een getal van 0 tot en met 100, met hoogstens 2 cijfers na de komma.")
            else:
                clean[name] = pct
        elif name in ("suffix", "extra_info"):
            limit = SUFFIX_MAX if name == "suffix" else EXTRA_INFO_MAX
            if not isinstance(value, str) or len(value) > limit:
                fail(name, f"Een tekst van hoogstens {limit} tekens.")
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
        return None, f"Een lijst van hoogstens {DATES_MAX} data."
    result = []
    for index, item in enumerate(value):
        if isinstance(item, str):
            item = {"date": item}
        if not isinstance(item, dict) or set(item) - {"date", "label"}:
            return None, f"[{index}]: een datum als 2027-03-02, of {{\"date\": \"2027-03-02\", \"label\": \"…\"}}."
        try:
            day = dt.date.fromisoformat(item.get("date") or "")
        except (TypeError, ValueError):
            return None, f"[{index}].date: geen geldige datum; geef een datum als 2027-03-02."
        label = item.get("label")
        if label is not None and (not isinstance(label, str) or len(label) > DATE_LABEL_MAX):
            return None, f"[{index}].label: een tekst van hoogstens {DATE_LABEL_MAX} tekens."
        result.append({"date": day.isoformat(), "label": (label or "").strip() or None})
    return result, None
