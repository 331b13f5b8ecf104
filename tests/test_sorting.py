"""Display order (seed feature 10): SO by onderwijsvorm, primary schools nursery before primary."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rules.sorting import display_key, fold, primary_sort_key, so_sort_key


def key(row):
    return so_sort_key(*row)


def test_the_documented_order():
    rows = [
        (None, 1, 1, "Zonder vorm", 9),
        ("KSO", 1, 1, "Kunst", 8),
        ("999", 1, 1, "Opleidingsvorm", 7),
        ("ABC", 1, 1, "Andere waarde", 6),
        ("HBO", 3, 7, "Verpleegkunde", 5),
        ("TSO", 2, 3, "Techniek", 4),
        ("BSO", 2, 3, "Zorg", 3),
        ("ASO", 2, 3, "Latijn", 2),
        ("ASO", 1, 2, "Moderne talen", 10),
        ("GSO", 1, 1, "1ste leerjaar A", 1),
        ("ASO", 1, None, "Zonder leerjaar", 11),
        ("ASO", None, 1, "Zonder graad", 12),
        ("ASO", 1, 2, "économie", 13),
        ("ASO", 1, 2, "Economie", 14),
        ("ASO", 1, 2, "Economie", 15),
    ]
    ordered = [r[4] for r in sorted(rows, key=key)]
    assert ordered == [1, 14, 15, 13, 10, 11, 2, 12, 3, 4, 5, 8, 7, 6, 9]


def test_names_compare_without_case_and_accents():
    assert fold("Économie") == fold("economie")
    assert sorted(["Zorg", "ábc", "Abd"], key=lambda n: so_sort_key("ASO", 1, 1, n, 0)) == ["ábc", "Abd", "Zorg"]


def test_primary_rows_in_leerjaar_order():
    rows = [(6, "Lager 6", 1016), (None, "AN", 10000), (0, "Instapklas", 1001), (1, "Lager 1", 1011)]
    assert [r[2] for r in sorted(rows, key=lambda r: primary_sort_key(*r))] == [1001, 1011, 1016, 10000]


vormen = st.one_of(st.none(), st.sampled_from(["GSO", "ASO", "BSO", "TSO", "HBO", "KSO", "999", "", "XYZ", "aso"]))
numbers = st.one_of(st.none(), st.integers(1, 7))
rows = st.tuples(vormen, numbers, numbers, st.text(max_size=12), st.integers(1, 99999))


@given(st.lists(rows, max_size=30, unique_by=lambda r: r[4]), st.randoms())
def test_order_is_total_deterministic_and_independent_of_input_order(items, rnd):
    first = sorted(items, key=key)
    shuffled = list(items)
    rnd.shuffle(shuffled)
    assert sorted(shuffled, key=key) == first
    for a, b in itertools.pairwise(first):
        assert key(a) < key(b)  # distinct codes: never a tie, so the order is total


@given(rows, rows, rows)
def test_transitive(a, b, c):
    ka, kb, kc = key(a), key(b), key(c)
    if ka <= kb <= kc:
        assert ka <= kc


# --- primary schools: nursery, then primary, then the rest, AN last ------------------------------

# (code, name, leerjaar, stage) as the demo catalogue has them
PRIMARY = [
    (1001, "Kleuteronderwijs - instapklas", 0, "kleuter"),
    (1002, "Kleuteronderwijs - 1ste kleuterklas", 1, "kleuter"),
    (1003, "Kleuteronderwijs - 2de kleuterklas", 2, "kleuter"),
    (1004, "Kleuteronderwijs - 3de kleuterklas", 3, "kleuter"),
    *[(1010 + n, f"Lager onderwijs - {n}de leerjaar", n, "lager") for n in range(1, 7)],
    (9001, "Zorgklas", None, None),
    (10000, "Anderstalige nieuwkomers", None, None),
]


def primary_key(school_type):
    return lambda r: display_key(school_type, None, None, r[2], r[1], r[0], r[3])


@pytest.mark.parametrize("school_type", ["BaO", "BuBaO"])
def test_nursery_before_primary_then_the_rest_and_an_last(school_type):
    shuffled = sorted(PRIMARY, key=lambda r: (r[2] if r[2] is not None else 99, -r[0]))  # leerjaar order mixes them
    assert [r[0] for r in sorted(shuffled, key=primary_key(school_type))] == [
        1001, 1002, 1003, 1004, 1011, 1012, 1013, 1014, 1015, 1016, 9001, 10000]


def test_an_instapklas_without_leerjaar_counts_as_zero():
    rows = [(1002, "1ste kleuterklas", 1, "kleuter"), (1001, "Instapklas", None, "kleuter"),
            (1003, "Kleuterklas zonder leerjaar", None, "kleuter")]
    assert [r[0] for r in sorted(rows, key=primary_key("BaO"))] == [1001, 1002, 1003]


def test_secondary_schools_ignore_the_stage():
    assert display_key("SO", "ASO", 1, 2, "Latijn", 55101, "secundair") == display_key("SO", "ASO", 1, 2, "Latijn", 55101, None)


stages = st.one_of(st.none(), st.sampled_from(["kleuter", "lager", "secundair"]))
primary_rows = st.tuples(st.integers(1, 99999), st.text(max_size=12), numbers, stages)
GROUP = {"kleuter": 0, "lager": 1}


@given(st.lists(primary_rows, max_size=30, unique_by=lambda r: r[0]), st.sampled_from(["BaO", "BuBaO"]), st.randoms())
def test_primary_groups_never_mix_and_the_order_is_total(items, school_type, rnd):
    ordered = sorted(items, key=primary_key(school_type))
    groups = [3 if r[0] == 10000 else GROUP.get(r[3], 2) for r in ordered]
    assert groups == sorted(groups)
    shuffled = list(items)
    rnd.shuffle(shuffled)
    assert sorted(shuffled, key=primary_key(school_type)) == ordered
    for a, b in itertools.pairwise(ordered):
        assert primary_key(school_type)(a) < primary_key(school_type)(b)
