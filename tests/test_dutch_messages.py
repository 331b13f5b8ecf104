"""Issue 14, point 7: every ``detail`` and ``errors[].message`` a LOP expert, school admin or parent can see is
Dutch (the plugin shows them as they are); the machine codes stay English."""

from __future__ import annotations

import re

import pytest

from tests.test_offerings import put_settings, world  # noqa: F401 — ``world`` is a fixture

# Words that give an English sentence away; none of them is a Dutch word.
ENGLISH = re.compile(r"\b(the|must|may not|not allowed|invalid|does not|expected|required|unknown|missing|"
                     r"should|please|cannot|field|only|exists?|you|your)\b", re.IGNORECASE)


def assert_dutch(problem: dict) -> None:
    texts = [problem["detail"], *(e["message"] for e in problem.get("errors") or [])]
    for text in texts:
        assert not ENGLISH.search(text), f"English for people: {text!r} in {problem}"


def test_rights_refusals_say_what_and_from_when(client, world, users):  # noqa: F811
    put_settings(client, users.expert3, SO="2099-03-02T09:00")
    offering_id = world.offerings[(world.so_school, world.next, 56201)]
    path = f"/api/v1/sites/3/schools/{world.so_school}/offerings/{offering_id}"

    one = client.patch(path, user=world.so_admin, json={"enrolled": 3})
    assert (one.status_code, one.json["code"]) == (403, "rights_forbidden_fields")
    assert one.json["detail"] == "Je mag het aantal zittende leerlingen nu niet wijzigen."

    # extra_info comes by itself at the free-registration start (next_after allows it): say from when,
    # in Brussels local time as people write it
    two = client.patch(path, user=world.so_admin, json={"extra_info": "Infoavond", "enrolled": 3})
    assert two.json["detail"] == "Je mag het aantal zittende leerlingen en de extra informatie nu niet wijzigen."
    assert [(e["field"], e["message"]) for e in two.json["errors"]] == [
        ("enrolled", "Je mag het aantal zittende leerlingen nu niet wijzigen."),
        ("extra_info", "Je mag de extra informatie nu niet wijzigen; dat kan vanaf 02/03/2099 09:00.")]

    added = client.post(f"/api/v1/sites/3/schools/{world.so_school}/offerings", user=world.so_admin,
                        json={"year": "current", "admgr_code": 56202})
    assert (added.status_code, added.json["code"]) == (403, "rights_forbidden")
    assert added.json["detail"] == "Je mag nu geen opleiding toevoegen."
    for response in (one, two, added):
        assert_dutch(response.json)


def test_year_errors_explain_the_closed_year(client, world, users):  # noqa: F811
    base = f"/api/v1/sites/3/schools/{world.so_school}/offerings"
    start = int(world.current[:4])
    closed = client.get(f"{base}?year={start - 1}-{start}", user=users.expert3)
    assert (closed.status_code, closed.json["errors"][0]["field"]) == (422, "year")
    assert closed.json["detail"] == (f"Schooljaar {start - 1}-{start} is afgesloten: het bestaat enkel nog als export van de "
                                     "vrije plaatsen zoals ze op 1 juli stonden (Export > Momentopnamen 1 juli).")
    other = client.get(f"{base}?year=volgend", user=users.expert3)
    assert other.json["detail"] == (f"Kies het lopende schooljaar (current, {world.current}) "
                                    f"of het volgende (next, {world.next}).")
    assert_dutch(closed.json)
    assert_dutch(other.json)


def test_settings_and_date_errors(client, world, users):  # noqa: F811
    document = {"free_registration_start": {"SO": "2 maart", "BaO": "2027-03-02"}, "rights": {}, "colour": 1}
    response = client.request("PUT", "/api/v1/sites/3/settings", user=users.expert3, json=document)
    assert response.status_code == 422
    messages = {e["field"]: e["message"] for e in response.json["errors"]}
    assert messages["free_registration_start.SO"] == "'2 maart' is geen geldige datum en uur. Geef een datum en uur als 2027-03-02T09:00."
    assert messages["free_registration_start.BaO"] == "'2027-03-02' heeft geen uur. Geef een datum en uur als 2027-03-02T09:00."
    assert messages["colour"] == "Onbekend veld."
    assert_dutch(response.json)

    rights = client.get(f"/api/v1/sites/3/rights?school={world.so_school}&at=gisteren", user=users.expert3)
    assert rights.status_code == 422
    assert rights.json["errors"] == [{"field": "at", "location": "query",
                                      "message": "Geen geldige datum en uur: geef een datum en uur als 2027-03-02T09:00."}]
    assert_dutch(rights.json)


@pytest.mark.parametrize("method, path, body", [
    ("GET", "/api/v1/catalogue/admgr?limit=0", None),  # marshmallow's Range
    ("GET", "/api/v1/catalogue/admgr?limit=veel", None),  # marshmallow's Integer
    ("GET", "/api/v1/sites/3/nergens", None),  # no such route
    ("DELETE", "/api/v1/sites/3/settings", None),  # no such method
    ("GET", "/api/v1/sites/3/schools/999999", None),  # no such school
    ("PUT", "/api/v1/sites/3/settings", ["geen object"]),
    ("GET", "/api/v1/sites/3/log?cursor=xyz", None),
    ("GET", "/api/v1/sites/9/schools", None),  # not a LOP site
])
def test_generic_errors_are_dutch(client, world, users, method, path, body):  # noqa: F811
    response = client.request(method, path, user=users.expert3, json=body)
    assert response.status_code >= 400
    assert response.content_type == "application/problem+json"
    assert re.fullmatch(r"[a-z_]+", response.json["code"])  # the machine code stays English
    assert_dutch(response.json)


def test_school_admin_sees_dutch_when_a_school_is_not_theirs(client, world):  # noqa: F811
    response = client.get(f"/api/v1/sites/3/schools/{world.other_so_school}", user=world.so_admin)
    assert (response.status_code, response.json["detail"]) == (403, "Je bent geen beheerder van deze school.")
