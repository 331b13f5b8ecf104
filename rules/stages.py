"""The stage of an administrative group: ``kleuter`` (nursery), ``lager`` (primary), ``secundair``
(secondary) or ``None`` (unknown). Primary schools list nursery before primary (seed feature 10), adding a
programme checks that its stage fits the school, and the OV comparison leaves primary education out.

Where it comes from (AgODi's file, the v2 migration, the demo): a level or structure column that names the
stage (kleuter-, lager or secundair onderwijs) decides; where the file makes no such distinction, a
description that starts with "Kleuteronderwijs" or contains "kleuterklas" or "instap" is nursery, other
primary-level codes (BaO, basisonderwijs) are primary and secondary-level codes (SO, BuSO) secondary.
Nothing else is guessed: without a level a code that is not recognisably nursery has no stage.
"""

from __future__ import annotations

import re

from .offerings import AN_ADMGR
from .text import fold

KLEUTER, LAGER, SECUNDAIR = "kleuter", "lager", "secundair"
STAGES = (KLEUTER, LAGER, SECUNDAIR)
PRIMARY_STAGES = (KLEUTER, LAGER)
PRIMARY_SCHOOL_TYPES = ("BaO", "BuBaO")
SECONDARY_SCHOOL_TYPES = ("SO", "BuSO")

_PRIMARY_LEVELS = {"bao", "bubao", "basis", "basisonderwijs", "gewoon basisonderwijs", "buitengewoon basisonderwijs",
                   "primair", "primary", "primary education"}
_SECONDARY_LEVELS = {"so", "buso", "secundair", "secundair onderwijs", "gewoon secundair onderwijs",
                     "buitengewoon secundair onderwijs", "secondary", "secondary education"}


def _words(text: str | None) -> str:
    return " ".join(re.findall(r"[0-9a-z]+", fold(text)))


def is_nursery_description(description: str | None) -> bool:
    text = fold(description).strip()
    return text.startswith("kleuteronderwijs") or "kleuterklas" in text or "instap" in text


def _named_stage(column: str) -> str | None:
    """The stage a level or structure value names outright ("Gewoon kleuteronderwijs", "Lager onderwijs")."""
    if "kleuter" in column:
        return KLEUTER
    if "lager" in column:
        return LAGER
    if column in _SECONDARY_LEVELS or "secundair" in column:
        return SECUNDAIR
    return None


def _is_primary_level(column: str) -> bool:
    return column in _PRIMARY_LEVELS or "basis" in column


def stage_of(onderwijsniveau: str | None, description: str | None, structuuronderdeel: str | None = None) -> str | None:
    """From the level or the structure where one names the stage; for a level that only says "primary" (BaO,
    basisonderwijs) or none at all, a nursery description makes it ``kleuter``."""
    columns = (_words(onderwijsniveau), _words(structuuronderdeel))
    for column in columns:
        named = _named_stage(column)
        if named:
            return named
    if is_nursery_description(description):
        return KLEUTER
    if any(_is_primary_level(column) for column in columns):
        return LAGER
    return None


def catalogue_stage(code: int, onderwijsniveau: str | None, description: str | None,
                    structuuronderdeel: str | None = None) -> str | None:
    """A catalogue entry's stage: AN (10000, the LOPs' own code for newcomers) has none — it is neither nursery
    nor primary and is shown in a column of its own."""
    if code == AN_ADMGR:
        return None
    return stage_of(onderwijsniveau, description, structuuronderdeel)


def fits_school(stage: str | None, school_type: str) -> bool:
    """Whether a programme of this stage may be added to a school of this type: no secondary programme in a
    primary school, no nursery or primary one in a secondary school; a code without a stage fits anywhere."""
    if stage == SECUNDAIR:
        return school_type not in PRIMARY_SCHOOL_TYPES
    if stage in PRIMARY_STAGES:
        return school_type not in SECONDARY_SCHOOL_TYPES
    return True
