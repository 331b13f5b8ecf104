"""The pure rules of the OV comparison (issue 14, point 2): what is red, what is outside OV, which removals ask
first, and worksheet names Excel accepts."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from rules.offerings import AN_ADMGR
from rules.ov import codes_needing_confirmation, compare_school, has_numbers
from rules.spreadsheet import SHEET_NAME_MAX, sheet_name

SO = {"id": 1, "name": "Sint-Jan", "type": "SO"}
codes = st.sets(st.sampled_from([AN_ADMGR, 1011, 1012, 55001, 56201, 57000, 58888, 12345]), max_size=8)
CATALOGUE = {1011: {"description": "1ste leerjaar", "stage": "lager"}, 1012: {"description": "Instapklas", "stage": "kleuter"},
             55001: {"description": "1A", "stage": "secundair"}, 57000: {"description": "Oud", "stage": None}}


@given(codes, codes, codes)
def test_every_site_code_ov_does_not_list_is_red_unless_outside_ov(site, ov, listed):
    result = compare_school(SO, site, ov, listed | ov, CATALOGUE, {})
    for row in result["rows"]:
        code = row["code"]
        if code in site and code in ov:
            assert row["status"] == "both"
        elif code in ov:
            assert row["status"] == "only_ov"
        elif code == AN_ADMGR or code in (1011, 1012):  # AN and primary education
            assert row["status"] == "not_covered"
        else:
            assert row["status"] == "only_lop"
        assert row["ov_lists_nowhere"] == (row["status"] == "only_lop" and code not in listed | ov)
    assert result["counts"]["only_lop"] == len(site - ov - {AN_ADMGR, 1011, 1012})


def test_a_primary_school_is_not_compared():
    result = compare_school({"id": 2, "name": "De Linde", "type": "BaO"}, {1011, 57000}, set(), set(), CATALOGUE, {})
    assert (result["covered"], result["rows"]) == (False, [])


def test_a_code_listed_elsewhere_is_red_but_still_exists():
    rows = {r["code"]: r for r in compare_school(SO, {57000, 12345}, set(), {57000}, CATALOGUE, {})["rows"]}
    assert (rows[57000]["status"], rows[57000]["ov_lists_nowhere"]) == ("only_lop", False)
    assert (rows[12345]["status"], rows[12345]["ov_lists_nowhere"]) == ("only_lop", True)


numbers = st.one_of(st.none(), st.integers(min_value=0, max_value=3))


@given(st.lists(st.fixed_dictionaries({"admgr_code": st.integers(1, 99999), "capacity": numbers,
                                       "free_places": numbers, "enrolled": numbers}), max_size=10))
def test_removals_that_ask_first(offerings):
    expected = sorted({o["admgr_code"] for o in offerings
                       if any(o[k] not in (None, 0) for k in ("capacity", "free_places", "enrolled"))})
    assert codes_needing_confirmation(offerings) == expected


def test_has_numbers():
    assert not has_numbers({"capacity": None, "free_places": 0, "enrolled": None})
    assert has_numbers({"capacity": None, "free_places": None, "enrolled": 11})


@given(st.lists(st.text(max_size=60), max_size=15))
def test_sheet_names_are_valid_and_unique_as_excel_compares(names):
    used = {"overzicht"}
    titles = [sheet_name(name, used) for name in names]
    assert len({t.casefold() for t in titles} | {"overzicht"}) == len(titles) + 1
    for title in titles:
        assert 1 <= len(title) <= SHEET_NAME_MAX
        assert not set(title) & set("[]:*?/\\") and not title.startswith("'") and not title.endswith("'")
        assert all(ord(c) >= 32 for c in title) and title.casefold() != "history"


def test_sheet_names_stay_readable():
    used: set[str] = set()
    assert sheet_name("Sint-Vincentiuscollege Dendermonde", used) == "St-Vincentiuscollege Dendermon…"
    assert sheet_name("Sint-Vincentiuscollege Dendermonde (Campus 2)", used) == "St-Vincentiuscollege Dende… (2)"
    assert sheet_name("Onze-Lieve-Vrouwecollege: Zottegem", used) == "Onze-Lieve-Vrouwecollege Zotte…"
    assert sheet_name("Onze-Lieve-Vrouw-Presentatie Sint-Niklaas", used) == "OLV-Presentatie Sint-Niklaas"
    assert sheet_name("KA Redingenhof", used) == "KA Redingenhof"
    assert sheet_name("ka redingenhof", used) == "ka redingenhof (2)"
    assert sheet_name("History", used) == "History (2)"
    assert sheet_name("???", used) == "School"
