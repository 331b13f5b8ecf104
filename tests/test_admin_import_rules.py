"""The pure checks of a school-admin import (rules.admin_import): one address per row, missing columns."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from rules.admin_import import ONE_ADDRESS, check_rows, map_headings, missing_columns_text, several_addresses

SCHOOLS = [{"id": 7, "name": "De Linde", "vestigingen": [{"instellingsnummer": 4711, "vestigingsnummer": 1}]}]
local = st.from_regex(r"[a-z][a-z0-9.]{0,10}[a-z0-9]", fullmatch=True).filter(lambda s: ".." not in s)
address = st.builds(lambda name, domain: f"{name}@{domain}.be", local, st.from_regex(r"[a-z]{2,10}", fullmatch=True))
separator = st.sampled_from([",", ";", " ", "\n", ", ", " ; ", "\t", "\r\n"])


@given(st.lists(address, min_size=2, max_size=4), separator)
def test_two_or_more_addresses_in_a_cell_are_one_error_of_that_row(addresses, sep):
    requests, errors = check_rows([(2, {"instellingsnummer": "004711", "school": "De Linde", "email": sep.join(addresses)})],
                                  SCHOOLS)
    assert requests == []
    assert [(e.row, e.column, e.message) for e in errors] == [(2, "E-mailadres", ONE_ADDRESS)]
    assert "één e-mailadres per rij" in ONE_ADDRESS


@given(address, st.sampled_from(["", " ", "\n", ";", " ,"]))
def test_one_address_with_stray_separators_around_it_is_no_such_error(email, tail):
    assert not several_addresses(f" {email}{tail}")


@given(st.sets(st.sampled_from(["instellingsnummer", "schoolnaam", "e-mailadres"])), st.booleans())
def test_every_missing_column_is_named(present, extra):
    header = [{"e-mailadres": "E-mailadres", "schoolnaam": "Schoolnaam", "instellingsnummer": "Instellingsnummer"}[h]
              for h in sorted(present)] + (["Opmerking"] if extra else [])
    _index, errors = map_headings(header)
    missing = [name for name in ("Instellingsnummer", "Schoolnaam", "E-mailadres") if name.lower() not in present]
    assert [e.column for e in errors] == missing
    if missing:
        text = missing_columns_text(missing)
        assert all(f"'{name}'" in text for name in missing)
        assert text.startswith("De eerste rij mist de kolom" + ("men " if len(missing) > 1 else " "))


def test_missing_columns_text():
    assert missing_columns_text(["E-mailadres"]) == ("De eerste rij mist de kolom 'E-mailadres'. Gebruik de kopjes van het "
                                                     "sjabloon: Instellingsnummer, Schoolnaam, E-mailadres.")
