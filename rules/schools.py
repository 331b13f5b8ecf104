"""Schools as shown on a LOP site and the official numbers of their locations."""

from __future__ import annotations

import enum


class SchoolType(str, enum.Enum):
    BAO = "BaO"
    BUBAO = "BuBaO"
    SO = "SO"
    BUSO = "BuSO"


SCHOOL_TYPES = tuple(t.value for t in SchoolType)

INSTELLINGSNUMMER_MAX = 999_999
VESTIGINGSNUMMER_MAX = 9_999_999
SCHOOL_NAME_MAX = 200
VESTIGINGEN_MAX = 50


def format_instellingsnummer(number: int) -> str:
    """The official school number as people read it: zero-padded to six digits (``012345``)."""
    return f"{number:06d}"
