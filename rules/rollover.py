"""The yearly rollover (seed feature 8), as pure decisions.

On the switch day (1 August) the next school year becomes the current one: its offerings stay as they
are (only the site's current-year label moves), the old current year's offerings go (their numbers are
kept in the 1 July snapshot), and a new next year is copied from the new current one with free places,
enrolled, extra info and dates cleared — programmes, capacity, indicator percentage and suffix kept.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from dataclasses import dataclass

from .school_year import label_for_start_year, start_year_of
from .sorting import fold

KEPT_FIELDS = ("capacity", "indicator_pct", "suffix")
CLEARED_FIELDS = ("free_places", "enrolled", "extra_info", "dates")


@dataclass(frozen=True)
class RolloverDecision:
    action: str  # "roll", "up_to_date", "refused"
    steps: tuple[str, ...] = ()  # the new current labels, one per year rolled
    reason: str = ""


def decide(site_label: str, target_label: str, *, force: bool) -> RolloverDecision:
    """How to get a site from its current label to the label that is current on the run's date."""
    have, want = start_year_of(site_label), start_year_of(target_label)
    if have == want:
        return RolloverDecision("up_to_date", reason=f"already rolled over to {site_label}")
    if have > want:
        return RolloverDecision("refused", reason=f"the site is at {site_label}, ahead of {target_label}: nothing to do "
                                                  "until then (check --date)")
    steps = tuple(label_for_start_year(year) for year in range(have + 1, want + 1))
    if len(steps) > 1 and not force:
        return RolloverDecision("refused", steps, f"the site is at {site_label}, {len(steps)} years behind "
                                                   f"{target_label} (a missed rollover?): run with --force to roll "
                                                   "one year at a time")
    return RolloverDecision("roll", steps)


def review_reasons(new_current: str, starts: dict[str, dt.datetime | None], now: dt.datetime, tz) -> list[str]:
    """Why the LOP expert must look at the settings after a rollover (Dutch: shown to LOP experts)."""
    reasons = [f"Het schooljaar {new_current} is nu het lopende schooljaar: de rechten voor lopend en volgend "
               "schooljaar verschillen meestal. Kijk de instellingen na."]
    past = [f"{type_} ({start.astimezone(tz):%d/%m/%Y %H:%M})" for type_, start in starts.items()
            if start is not None and start <= now]
    if past:
        reasons.append("De start van de vrije inschrijvingen ligt in het verleden voor: " + ", ".join(past) + ".")
    return reasons


# --- stale school-year references in WordPress pages -------------------------------------------

_LONG = re.compile(r"(?<!\d)(\d{4})\s*[-–/]\s*(\d{4})(?!\d)")
_SHORT = re.compile(r"(?<![\d/.-])(\d{2})-(\d{2})(?![\d/-]|\.\d)")
_TAGS = re.compile(r"<[^>]+>")
SHORT_FORM_YEARS = 10  # "20-21" forms are only looked for this many years back (they look like many other things)


def strip_html(text: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(_TAGS.sub(" ", text or ""))).strip()


NEXT_YEAR_WINDOW = 40  # characters either side of a current-year mention in which "volgend schooljaar" counts
_CALLED_NEXT = re.compile(r"(?<![a-z])(?:volgend\s+(?:school)?jaar|komend\s+schooljaar)(?![a-z])")
OLDER_YEAR, CURRENT_YEAR_CALLED_NEXT = "older_year", "current_year_called_next"


def next_year_phrases(text: str) -> list[tuple[int, int]]:
    """Where ``text`` says "volgend schooljaar", "volgend jaar" or "komend schooljaar" (any case, any accents):
    (start, end) in ``text``."""
    folded, origin = [], []
    for index, char in enumerate(text):
        piece = fold(char)  # one character may fold to none (an accent) or several (ß → ss)
        folded.append(piece)
        origin.extend([index] * len(piece))
    return [(origin[m.start()], origin[m.end() - 1] + 1) for m in _CALLED_NEXT.finditer("".join(folded))]


def _gap(a: tuple[int, int], b: tuple[int, int]) -> int:
    """Characters between two spans that do not overlap."""
    return a[0] - b[1] if a[0] >= b[1] else b[0] - a[1]


def called_next(phrases: list[tuple[int, int]], mentions: list[tuple[tuple[int, int], int]], mention: tuple[int, int],
                current: int, window: int = NEXT_YEAR_WINDOW) -> bool:
    """Whether a phrase within ``window`` characters of the current-year ``mention`` calls it the next year.
    ``mentions`` are every school-year mention (span, first calendar year). A phrase that rightly names a later
    year does not: the year it speaks of is the first mention after it within the window, else the nearest one
    before it ("2021-2022 en volgend schooljaar 2022-2023", "2022-2023 (volgend schooljaar)"). Otherwise every
    current-year mention near it is flagged ("volgend schooljaar: 20-21 of 21-22")."""
    for phrase in phrases:
        if _gap(mention, phrase) > window:
            continue
        after = [(span, year) for span, year in mentions if span[0] >= phrase[1] and _gap(span, phrase) <= window]
        before = [(span, year) for span, year in mentions if span[1] <= phrase[0] and _gap(span, phrase) <= window]
        spoken_of = after[0] if after else max(before, key=lambda m: m[0][1]) if before else None
        if spoken_of is None or spoken_of[1] <= current:
            return True
    return False


def _year_mentions(text: str, current: int) -> list[tuple[re.Match, int]]:
    """Every school-year mention up to the year after the current one: (match, first calendar year)."""
    found = []
    for match in _LONG.finditer(text):
        first, second = int(match.group(1)), int(match.group(2))
        if second == first + 1 and 2000 <= first:
            found.append((match, first))
    for match in _SHORT.finditer(text):
        first, second = int(match.group(1)), int(match.group(2))
        year = 2000 + first
        if second == (first + 1) % 100 and current - SHORT_FORM_YEARS <= year <= current + 1:
            found.append((match, year))
    return sorted(found, key=lambda item: item[0].start())


def stale_mentions(text: str, current_label: str, context: int = 40) -> list[dict]:
    """What a page must not say after the rollover: a school year older than the current one (``2020-2021``,
    ``2020 - 2021`` or ``20-21``; kind ``older_year``), and the current year called the next one
    ("volgend schooljaar 2021-2022" once 2021-2022 is current, the phrase within ``NEXT_YEAR_WINDOW`` characters,
    any case and accents; kind ``current_year_called_next``)."""
    current = start_year_of(current_label)
    found = _year_mentions(text, current)
    spans = [(m.span(), year) for m, year in found]
    phrases = next_year_phrases(text) if any(year == current for _m, year in found) else []
    mentions = []
    for match, year in found:
        if year < current:
            kind = OLDER_YEAR
        elif year == current and called_next(phrases, spans, match.span(), current):
            kind = CURRENT_YEAR_CALLED_NEXT
        else:
            continue
        mentions.append({"kind": kind, "label": label_for_start_year(year), "text": match.group(0),
                         "context": text[max(0, match.start() - context):match.end() + context].strip()})
    return mentions


# --- the free-places snapshots --------------------------------------------------------------------

SNAPSHOT_KINDS = ("1_july", "rollover", "manual")


def snapshot_kind(stored: str | None, on: dt.date) -> str:
    """The kind of a stored snapshot; rows from before schema v2 have none: dated 1 July, the scheduled
    1 July one, else one taken by hand."""
    if stored in SNAPSHOT_KINDS:
        return stored
    return "1_july" if (on.month, on.day) == (7, 1) else "manual"
