"""The stage of an administrative group (kleuter, lager, secundair) and which school it fits (issue 14)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rules.programmes import programme_refusal
from rules.stages import KLEUTER, LAGER, SECUNDAIR, STAGES, catalogue_stage, fits_school, is_nursery_description, stage_of


@pytest.mark.parametrize("level, description, structure, expected", [
    ("BaO", "Kleuteronderwijs - instapklas", None, KLEUTER),
    ("BaO", "Lager onderwijs - 1ste leerjaar", None, LAGER),
    ("Gewoon basisonderwijs", "Instapklas", None, KLEUTER),
    ("Gewoon kleuteronderwijs", "Eerste jaar", None, KLEUTER),  # the level names the stage
    ("Buitengewoon lager onderwijs", "Type basisaanbod", None, LAGER),
    ("Secundair onderwijs", "Latijn", None, SECUNDAIR),
    ("SO", "1ste leerjaar A", None, SECUNDAIR),
    ("BuSO", "Opleidingsvorm 4", None, SECUNDAIR),
    (None, "Kleuteronderwijs - 2de kleuterklas", None, KLEUTER),  # no level: the description
    (None, "Gemengde kleuterklas", None, KLEUTER),
    (None, "Lager onderwijs - 1ste leerjaar", None, None),  # no level: not guessed
    (None, "Latijn", None, None),
    ("", "Iets", "", None),
    (None, "1ste leerjaar", "Gewoon lager onderwijs", LAGER),  # the structure names the stage
    (None, "Instapklas", "Kleuteronderwijs", KLEUTER),
    ("9", "Wiskunde", "Secundair onderwijs - 2de graad", SECUNDAIR),
])
def test_stage_from_level_structure_and_description(level, description, structure, expected):
    assert stage_of(level, description, structure) == expected


def test_an_has_no_stage():
    assert catalogue_stage(10000, "BaO", "Anderstalige nieuwkomers") is None
    assert catalogue_stage(1011, "BaO", "Lager onderwijs - 1ste leerjaar") == LAGER


texts = st.one_of(st.none(), st.text(max_size=30),
                  st.sampled_from(["BaO", "SO", "BuSO", "Kleuteronderwijs", "Lager onderwijs", "Basisonderwijs",
                                   "Secundair onderwijs", "instapklas", "1ste kleuterklas", "Latijn"]))


@given(texts, texts, texts)
def test_stage_is_one_of_the_stages_or_none(level, description, structure):
    assert stage_of(level, description, structure) in (*STAGES, None)


@given(st.sampled_from(["Gewoon kleuteronderwijs", "Buitengewoon kleuteronderwijs", "Kleuter"]), texts, texts)
def test_a_level_naming_nursery_decides_whatever_the_description(level, description, structure):
    assert stage_of(level, description, structure) == KLEUTER


@given(texts)
def test_without_level_or_structure_only_nursery_is_recognised(description):
    assert stage_of(None, description, None) == (KLEUTER if is_nursery_description(description) else None)


@given(st.sampled_from(["BaO", "BuBaO", "Basisonderwijs", "Gewoon basisonderwijs"]), texts)
def test_a_primary_level_is_nursery_or_primary(level, description):
    assert stage_of(level, description) == (KLEUTER if is_nursery_description(description) else LAGER)


school_types = st.sampled_from(["BaO", "BuBaO", "SO", "BuSO"])


@given(st.one_of(st.none(), st.sampled_from(STAGES)), school_types)
def test_fits_school(stage, school_type):
    primary_school = school_type in ("BaO", "BuBaO")
    expected = stage is None or (stage in (KLEUTER, LAGER)) == primary_school
    assert fits_school(stage, school_type) is expected


def entry(stage, active=True, inactive_since=None, description="Iets"):
    return {"description": description, "active": active, "inactive_since": inactive_since, "stage": stage}


def test_programme_refusals_in_dutch():
    import datetime as dt

    assert programme_refusal(56201, "SO", entry(SECUNDAIR)) is None
    assert programme_refusal(99001, "BaO", entry(None)) is None  # no stage: accepted anywhere
    assert programme_refusal(99001, "SO", entry(None)) is None
    inactive = programme_refusal(56201, "SO", entry(SECUNDAIR, False, dt.date(2026, 6, 30), "Natuurwetenschappen"))
    assert (inactive.code, inactive.message) == ("admgr_inactive", "niet meer actief sinds 30/06/2026")
    assert inactive.detail == ("Administratieve groep 56201 (Natuurwetenschappen) is sinds 30/06/2026 niet meer actief "
                               "en kan niet meer worden toegevoegd.")
    wrong = programme_refusal(55101, "BuBaO", entry(SECUNDAIR, description="Latijn"))
    assert (wrong.code, wrong.message) == ("admgr_wrong_level", "hoort bij het secundair onderwijs, niet bij een BuBaO-school")
    assert programme_refusal(1002, "BuSO", entry(KLEUTER)).code == "admgr_wrong_level"
    assert programme_refusal(1011, "SO", entry(LAGER)).code == "admgr_wrong_level"
    assert programme_refusal(4242, "BaO", None).code == "validation_failed"
    assert programme_refusal(10000, "BaO", None) is None
    assert programme_refusal(10000, "BuBaO", entry(None)).code == "validation_failed"
