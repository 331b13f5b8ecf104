from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rules.school_year import (
    current_school_year,
    is_label,
    next_school_year,
    parse_switch_day,
    start_year_of,
)


@pytest.mark.parametrize("day, expected", [
    (dt.date(2026, 7, 31), "2025-2026"),
    (dt.date(2026, 8, 1), "2026-2027"),
    (dt.date(2026, 11, 28), "2026-2027"),
    (dt.date(2027, 1, 1), "2026-2027"),
])
def test_current_school_year(day, expected):
    assert current_school_year(day) == expected


def test_switch_day_is_configurable():
    assert current_school_year(dt.date(2026, 7, 15), (7, 15)) == "2026-2027"
    assert current_school_year(dt.date(2026, 7, 14), (7, 15)) == "2025-2026"


@given(st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2100, 12, 31)))
def test_the_current_year_contains_the_date(day):
    label = current_school_year(day)
    start = start_year_of(label)
    assert dt.date(start, 8, 1) <= day < dt.date(start + 1, 8, 1)
    assert next_school_year(label) == f"{start + 1}-{start + 2}"


@pytest.mark.parametrize("value", ["2026-2028", "2026/2027", "26-27", "", "2026-2027 "])
def test_bad_labels(value):
    assert not is_label(value)


def test_switch_day_parsing():
    assert parse_switch_day("08-01") == (8, 1)
    for bad in ("8-1", "02-30", "13-01", ""):
        with pytest.raises(ValueError):
            parse_switch_day(bad)
