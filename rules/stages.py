"""The stage of an administrative group: ``kleuter`` (nursery), ``lager`` (primary), ``secundair``
(secondary) or ``None`` (unknown). Primary schools list nursery before primary (seed feature 10), adding a
programme checks that its stage fits the school, and the OV comparison leaves primary education out."""

from __future__ import annotations

import re

from .sorting import fold

KLEUTER, LAGER, SECUNDAIR = "kleuter", "lager", "secundair"
STAGES = (KLEUTER, LAGER, SECUNDAIR)
PRIMARY_STAGES = (KLEUTER, LAGER)

_PRIMARY_LEVELS = {"bao", "bubao", "basis", "basisonderwijs", "gewoon basisonderwijs", "buitengewoon basisonderwijs",
                   "primair", "primary"}
_SECONDARY_LEVELS = {"so", "buso", "secundair", "secundair onderwijs", "gewoon secundair onderwijs",
                     "buitengewoon secundair onderwijs", "secondary"}


def _words(text: str | None) -> str:
    return " ".join(re.findall(r"[0-9a-z]+", fold(text)))


def is_nursery_description(description: str | None) -> bool:
    text = fold(description)
    return text.startswith("kleuteronderwijs") or "kleuterklas" in text or "instap" in text


def stage_of(onderwijsniveau: str | None, description: str | None) -> str | None:
    """From the level where it names the stage (kleuter-, lager or secundair onderwijs); for a level that
    only says "primary" (BaO, basisonderwijs), from the description."""
    level = _words(onderwijsniveau)
    if "kleuter" in level:
        return KLEUTER
    if "lager" in level:
        return LAGER
    if level in _SECONDARY_LEVELS or "secundair" in level:
        return SECUNDAIR
    if level in _PRIMARY_LEVELS or "basis" in level:
        return KLEUTER if is_nursery_description(description) else LAGER
    return None
