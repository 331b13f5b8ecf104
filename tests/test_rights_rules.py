"""Rights evaluation and settings parsing (pure)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rules.rights import (
    ALL_PERMISSIONS,
    PERIODS,
    PERMISSIONS,
    RIGHTS_TYPES,
    RightsSettings,
    evaluate,
    parse_local_time,
    rights_type,
    settings_from_json,
    settings_from_storage,
    settings_to_json,
    settings_to_storage,
    types_of_school,
)
from rules.roles import Role

BRUSSELS = ZoneInfo("Europe/Brussels")
UTC = dt.timezone.utc


def settings_with(start: dt.datetime | None, type_="SO") -> RightsSettings:
    rights = {t: {"current": frozenset({"edit_free_places"}), "next_before": frozenset({"edit_capacity", "add_offering"}),
                  "next_after": frozenset({"edit_free_places", "edit_extra_info"})} for t in RIGHTS_TYPES}
    starts = {t: None for t in RIGHTS_TYPES}
    starts[type_] = start
    return RightsSettings(starts, rights)


def test_rights_type():
    assert rights_type("SO", 1, 1) == "1A/1B"
    assert rights_type("SO", 1, 2) == "SO"
    assert rights_type("SO", None, None) == "SO"
    assert rights_type("BuSO", 1, 1) == "BuSO"  # only mainstream SO has the 1A/1B type
    assert rights_type("BaO", 1, 1) == "BaO"
    assert types_of_school("SO") == ("SO", "1A/1B")
    assert types_of_school("BuBaO") == ("BuBaO",)


def test_exact_boundary_is_after():
    start = dt.datetime(2027, 3, 1, 8, 0, tzinfo=UTC)
    settings = settings_with(start)
    just_before = evaluate(Role.SCHOOL_ADMIN, True, "next", "SO", settings, start - dt.timedelta(microseconds=1))
    exactly = evaluate(Role.SCHOOL_ADMIN, True, "next", "SO", settings, start)
    assert (just_before.period, just_before.changes_at) == ("next_before", start)
    assert just_before.permissions == {"edit_capacity", "add_offering"}
    assert (exactly.period, exactly.changes_at) == ("next_after", None)
    assert exactly.permissions == {"edit_free_places", "edit_extra_info"}


def test_no_start_means_before_and_current_is_one_set():
    settings = settings_with(None)
    now = dt.datetime(2030, 1, 1, tzinfo=UTC)
    assert evaluate(Role.SCHOOL_ADMIN, True, "next", "SO", settings, now).period == "next_before"
    current = evaluate(Role.SCHOOL_ADMIN, True, "current", "SO", settings, now)
    assert (current.period, current.permissions, current.changes_at) == ("current", {"edit_free_places"}, None)


@pytest.mark.parametrize("local, utc", [
    ("2027-03-28T01:59", "2027-03-28T00:59:00+00:00"),  # winter time, just before the spring change
    ("2027-03-28T03:00", "2027-03-28T01:00:00+00:00"),  # summer time, just after it
    ("2027-10-31T01:59", "2027-10-30T23:59:00+00:00"),  # summer time, before the autumn change
    ("2027-10-31T03:00", "2027-10-31T02:00:00+00:00"),  # winter time, after it
    ("2027-03-01T09:00+01:00", "2027-03-01T08:00:00+00:00"),
    ("2027-03-01T08:00Z", "2027-03-01T08:00:00+00:00"),
])
def test_local_times_across_daylight_saving(local, utc):
    assert parse_local_time(local, BRUSSELS).isoformat() == utc


@pytest.mark.parametrize("local, message", [
    ("2027-03-28T02:30", "bestaat niet"),  # skipped by the spring change
    ("2027-10-31T02:30", "komt twee keer voor"),  # happens twice in autumn
    ("2027-03-01", "heeft geen uur"),
    ("1 maart", "geen geldige datum en uur"),
])
def test_impossible_local_times_are_refused(local, message):
    with pytest.raises(ValueError, match=message):
        parse_local_time(local, BRUSSELS)


@pytest.mark.parametrize("start_local", ["2027-03-28T03:00", "2027-10-31T03:00", "2027-03-27T09:00"])
def test_evaluation_around_daylight_saving_changes(start_local):
    start = parse_local_time(start_local, BRUSSELS)
    settings = settings_with(start)
    one_hour_before_local = start - dt.timedelta(hours=1)
    assert evaluate(Role.SCHOOL_ADMIN, True, "next", "SO", settings, one_hour_before_local).period == "next_before"
    assert evaluate(Role.SCHOOL_ADMIN, True, "next", "SO", settings, start).period == "next_after"


instants = st.datetimes(min_value=dt.datetime(2020, 1, 1), max_value=dt.datetime(2035, 1, 1), timezones=st.just(UTC))
permission_sets = st.frozensets(st.sampled_from(PERMISSIONS))


@st.composite
def random_settings(draw):
    starts = {t: draw(st.one_of(st.none(), instants)) for t in RIGHTS_TYPES}
    rights = {t: {p: draw(permission_sets) for p in PERIODS} for t in RIGHTS_TYPES}
    return RightsSettings(starts, rights)


@given(random_settings(), st.sampled_from(RIGHTS_TYPES), st.sampled_from(["current", "next"]), instants, instants)
def test_permissions_only_change_at_changes_at(settings, type_, year, t1, t2):
    first, second = sorted([t1, t2])
    a = evaluate(Role.SCHOOL_ADMIN, True, year, type_, settings, first)
    b = evaluate(Role.SCHOOL_ADMIN, True, year, type_, settings, second)
    if a.changes_at is None or second < a.changes_at:
        assert (a.period, a.permissions) == (b.period, b.permissions)
    else:
        assert (a.period, b.period) == ("next_before", "next_after")
        assert b.permissions == settings.rights[type_]["next_after"]


@given(random_settings(), st.sampled_from(RIGHTS_TYPES), st.sampled_from(["current", "next"]), instants)
def test_never_anything_on_a_school_not_linked(settings, type_, year, now):
    for role in (Role.SCHOOL_ADMIN, None):
        assert evaluate(role, False, year, type_, settings, now).permissions == frozenset()
    assert evaluate(None, True, year, type_, settings, now).permissions == frozenset()


@given(random_settings(), st.sampled_from(RIGHTS_TYPES), st.sampled_from(["current", "next"]), instants, st.booleans())
def test_managers_may_always_do_everything(settings, type_, year, now, linked):
    for role in (Role.OPERATOR, Role.LOP_EXPERT):
        assert evaluate(role, linked, year, type_, settings, now).permissions == ALL_PERMISSIONS


@given(random_settings())
def test_storage_round_trip(settings):
    assert settings_from_storage(settings_to_storage(settings)) == settings


def full_document(**overrides) -> dict:
    document = {
        "free_registration_start": {t: None for t in RIGHTS_TYPES},
        "rights": {t: {p: [] for p in PERIODS} for t in RIGHTS_TYPES},
    }
    document.update(overrides)
    return document


def test_a_full_document_parses_and_formats_back():
    document = full_document()
    document["free_registration_start"]["SO"] = "2027-03-01T09:00"
    document["rights"]["1A/1B"]["next_before"] = ["add_offering", "edit_capacity"]
    settings, errors = settings_from_json(document, BRUSSELS)
    assert errors == []
    out = settings_to_json(settings, BRUSSELS)
    assert out["free_registration_start"]["SO"] == "2027-03-01T09:00"
    assert out["free_registration_start_utc"]["SO"] == "2027-03-01T08:00:00Z"
    assert out["rights"]["1A/1B"]["next_before"] == ["edit_capacity", "add_offering"]  # in the documented order


@pytest.mark.parametrize("mutate, field", [
    (lambda d: d["free_registration_start"].update({"Kleuter": None}), "free_registration_start.Kleuter"),
    (lambda d: d["free_registration_start"].pop("BuSO"), "free_registration_start.BuSO"),
    (lambda d: d["free_registration_start"].update({"SO": "2027-13-01T09:00"}), "free_registration_start.SO"),
    (lambda d: d["rights"]["SO"].update({"current": ["edit_everything"]}), "rights.SO.current"),
    (lambda d: d["rights"]["SO"].pop("next_after"), "rights.SO.next_after"),
    (lambda d: d["rights"].pop("1A/1B"), "rights.1A/1B"),
    (lambda d: d.pop("rights"), "rights"),
    (lambda d: d.update({"colour": 1}), "colour"),
])
def test_bad_documents_name_the_field(mutate, field):
    document = full_document()
    mutate(document)
    settings, errors = settings_from_json(document, BRUSSELS)
    assert settings is None
    assert field in {e["field"] for e in errors}
