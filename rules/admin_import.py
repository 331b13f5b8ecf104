"""Checking the rows of a school-admin import (the Excel template) against the site's schools. Pure:
messages are Dutch, for the LOP expert who filled in the file."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .emails import normalise_email
from .sorting import fold

MAX_ROWS = 5000
HEADINGS = {  # field -> accepted headings (folded)
    "instellingsnummer": ("instellingsnummer", "instelling", "nummer"),
    "school": ("schoolnaam", "school", "naam"),
    "email": ("emailadres", "email", "mailadres", "mail"),
}
TEMPLATE_HEADINGS = ("Instellingsnummer", "Schoolnaam", "E-mailadres")
NO_ROWS = "Er werden geen rijen ingevuld."
ONE_ADDRESS = "meer dan één e-mailadres in deze cel: één e-mailadres per rij (gebruik een extra rij voor dezelfde school)"
_SEPARATORS = re.compile(r"[\s,;]+")


@dataclass(frozen=True)
class ImportError_:
    row: int | None
    column: str | None
    message: str

    def as_json(self) -> dict:
        return {"row": self.row, "column": self.column, "message": self.message}


def _key(text) -> str:
    return re.sub(r"[^a-z0-9]", "", fold(str(text or "")))


def map_headings(header: list) -> tuple[dict[str, int], list[ImportError_]]:
    index = {}
    for position, heading in enumerate(header):
        folded = _key(heading)
        for field, names in HEADINGS.items():
            if folded in names and field not in index:
                index[field] = position
    missing = [TEMPLATE_HEADINGS[i] for i, f in enumerate(HEADINGS) if f not in index]
    errors = [ImportError_(1, name, f"kolom '{name}' ontbreekt in de eerste rij") for name in missing]
    return index, errors


def missing_columns_text(names: list[str]) -> str:
    """The detail of a heading row that lacks columns: every missing column named."""
    quoted = [f"'{name}'" for name in names]
    listed = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " en " + quoted[-1]
    what = "de kolom" if len(quoted) == 1 else "de kolommen"
    return (f"De eerste rij mist {what} {listed}. Gebruik de kopjes van het sjabloon: "
            + ", ".join(TEMPLATE_HEADINGS) + ".")


def several_addresses(text: str) -> bool:
    """Two or more addresses in one cell (separated by spaces, commas, semicolons or line breaks)."""
    return sum("@" in part for part in _SEPARATORS.split(text.strip())) > 1


def check_rows(rows: list[tuple[int, dict]], schools: list[dict]) -> tuple[list[tuple[int, int, str]], list[ImportError_]]:
    """(row, school id, e-mail) for every filled-in row, or every error. ``schools``: the site's schools
    with their vestigingen."""
    by_number: dict[int, list[dict]] = {}
    for school in schools:
        for number in {v["instellingsnummer"] for v in school["vestigingen"]}:
            by_number.setdefault(number, []).append(school)
    errors: list[ImportError_] = []
    requests: list[tuple[int, int, str]] = []
    seen: dict[tuple[int, str], int] = {}
    for row, values in rows:
        raw_number, name, raw_email = values.get("instellingsnummer"), values.get("school"), values.get("email")
        if all(v in (None, "") for v in (raw_number, name, raw_email)):
            continue
        number_text = str(raw_number).strip() if raw_number is not None else ""
        if isinstance(raw_number, float) and raw_number.is_integer():
            number_text = str(int(raw_number))
        school = None
        if not re.fullmatch(r"[0-9]{1,9}", number_text):  # ASCII digits: "¹²" or Arabic-Indic digits are no number here
            errors.append(ImportError_(row, "Instellingsnummer", f"'{number_text}' is geen instellingsnummer "
                                                                 "(enkel de cijfers 0-9)"))
        else:
            candidates = by_number.get(int(number_text), [])
            if not candidates:
                errors.append(ImportError_(row, "Instellingsnummer", f"geen school met instellingsnummer {int(number_text):06d} op deze site"))
            else:
                matching = [s for s in candidates if _key(s["name"]) == _key(name)]
                if not matching:
                    names = ", ".join(s["name"] for s in candidates)
                    errors.append(ImportError_(row, "Schoolnaam", f"'{name or ''}' hoort niet bij instellingsnummer "
                                                                 f"{int(number_text):06d} (verwacht: {names})"))
                else:
                    school = matching[0]
        if several_addresses(str(raw_email or "")):
            errors.append(ImportError_(row, "E-mailadres", ONE_ADDRESS))
            continue
        try:
            email = normalise_email(str(raw_email or ""))
        except ValueError as exc:
            errors.append(ImportError_(row, "E-mailadres", str(exc)))
            continue
        if school is None:
            continue
        key = (school["id"], email.lower())
        if key in seen:
            errors.append(ImportError_(row, "E-mailadres", f"{email} staat voor deze school ook al in rij {seen[key]}"))
            continue
        seen[key] = row
        requests.append((row, school["id"], email))
    return requests, errors
