"""Which programme (administrative group) may be added to which school: pure checks of a catalogue entry
against the school's type. The use case ``service.offerings.add_programme`` applies them for the API, jobs
and the command line alike."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from .offerings import AN_ADMGR
from .stages import KLEUTER, LAGER, SECUNDAIR, fits_school

AN_SCHOOL_TYPES = ("BaO",)  # AN (anderstalige nieuwkomers) is a column of mainstream primary schools only

STAGE_NAMES = {KLEUTER: "kleuteronderwijs", LAGER: "lager onderwijs", SECUNDAIR: "secundair onderwijs"}


@dataclass(frozen=True)
class Refusal:
    code: str  # machine code of the 422 answer
    detail: str  # Dutch, for the person adding the programme
    message: str  # Dutch, the ``errors[]`` entry of field admgr_code


def _date(day: dt.date | None) -> str:
    return day.strftime("%d/%m/%Y") if day else ""


def programme_refusal(code: int, school_type: str, entry: Mapping | None) -> Refusal | None:
    """Why ``code`` cannot be added to a school of ``school_type`` (``entry``: the catalogue's row as a mapping
    with ``description``, ``active``, ``inactive_since`` and ``stage``, None when the code is not in it), or
    None when it can. AN (10000) needs no catalogue entry, only a BaO school."""
    if code == AN_ADMGR:
        if school_type not in AN_SCHOOL_TYPES:
            message = f"anderstalige nieuwkomers (AN, {AN_ADMGR}) kunnen enkel bij een BaO-school, niet bij een {school_type}-school"
            return Refusal("validation_failed", message[0].upper() + message[1:] + ".", message)
        return None
    if entry is None:
        return Refusal("validation_failed", f"Administratieve groep {code} staat niet in de catalogus.",
                       "staat niet in de catalogus van administratieve groepen")
    name = f"{code} ({entry['description']})"
    if not entry["active"]:
        since = f" sinds {_date(entry['inactive_since'])}" if entry.get("inactive_since") else ""
        return Refusal("admgr_inactive",
                       f"Administratieve groep {name} is{since} niet meer actief en kan niet meer worden toegevoegd.",
                       f"niet meer actief{since}")
    stage = entry.get("stage")
    if not fits_school(stage, school_type):
        return Refusal("admgr_wrong_level",
                       f"Administratieve groep {name} hoort bij het {STAGE_NAMES[stage]} en past niet bij een "
                       f"{school_type}-school.",
                       f"hoort bij het {STAGE_NAMES[stage]}, niet bij een {school_type}-school")
    return None
