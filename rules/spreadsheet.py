"""What every export of this project shares: cells safe from formula injection, and CSV as Excel
with Belgian settings opens it (UTF-8 with BOM, ``;`` separator, CRLF line ends)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import unicodedata
from collections.abc import Iterable, Iterator
from decimal import Decimal

EXCEL_MAX_ROWS = 1_048_576
BOM = "\ufeff"
# What makes a spreadsheet read a CSV text as a formula: these first characters (full-width ones too, which
# some spreadsheets fold to ASCII), also behind invisible or control characters that an import strips.
_FORMULA_CHARS = frozenset("=+-@\t\r\uff1d\uff0b\uff0d\uff20")
_INVISIBLE_LEAD = "".join(map(chr, range(0x21))) + "\x7f\u00a0\u200b\u200c\u200d\u2060\ufeff"
# control characters XML (and so XLSX) cannot carry
XLSX_ILLEGAL = {c: None for c in range(32) if c not in (9, 10, 13)}


MONTHS_NL = ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober",
             "november", "december")


def long_date_nl(day: dt.date) -> str:
    """``1 juli 2027``: a date as a title reads it."""
    return f"{day.day} {MONTHS_NL[day.month - 1]} {day.year}"


def title_rows(site_name: str, what: str, school_year: str, as_of: dt.date | dt.datetime) -> list[str]:
    """The title rows of an Excel file people print: ``LOP Gent SO – Vrije plaatsen schooljaar 2026-2027`` and
    ``Stand op 1 juli 2027`` (a day) or ``Stand op 20/12/2026 09:00`` (a local time)."""
    moment = f"{as_of:%d/%m/%Y %H:%M}" if isinstance(as_of, dt.datetime) else long_date_nl(as_of)
    return [f"{site_name} – {what} schooljaar {school_year}", f"Stand op {moment}"]


def slug(text: str, fallback: str = "") -> str:
    """A file-name part: ASCII lower case, words joined by hyphens (``LOP Gent – SO`` → ``lop-gent-so``)."""
    ascii_text = unicodedata.normalize("NFKD", (text or "").casefold()).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-") or fallback


def needs_formula_guard(text: str) -> bool:
    if not text:
        return False
    first = text[0]
    if "0" <= first <= "9" or "@" < first < "\x7f":  # letters and digits: the usual case, decided at once
        return False
    return first in _FORMULA_CHARS or text.lstrip(_INVISIBLE_LEAD)[:1] in _FORMULA_CHARS


def safe_cell(value):
    """For CSV: a text that a spreadsheet would run as a formula is prefixed with ``'`` so that it shows as
    text. (XLSX needs no prefix: texts are written as string cells, never formulas: ``xlsx_text``.)"""
    if isinstance(value, str) and needs_formula_guard(value):
        return "'" + value
    return value


def xlsx_text(value: str) -> str:
    """A text as an XLSX string cell can hold it: without the control characters XML refuses (a school name
    that an older version stored with a vertical tab must not make the whole download fail)."""
    return value.translate(XLSX_ILLEGAL)


def csv_value(value) -> str:
    kind = type(value)
    if kind is int:
        return str(value)
    if kind is str:
        return "'" + value if needs_formula_guard(value) else value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "ja" if value else "nee"
    if isinstance(value, float | Decimal):
        return f"{value:.2f}".replace(".", ",")  # Belgian decimal comma
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat(sep=" ") if isinstance(value, dt.datetime) else value.isoformat()
    return str(safe_cell(value) if isinstance(value, str) else value)


def csv_chunks(header: list[str], rows: Iterable[Iterable], rows_per_chunk: int = 1000) -> Iterator[bytes]:
    """The CSV as a stream of byte chunks: the BOM and header first, then ``rows_per_chunk`` rows at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    buffer.write(BOM)
    writer.writerow([csv_value(h) for h in header])
    count = 0
    for row in rows:
        # The common cells inline (this loop runs for every cell of a million-row export): None and ints as
        # the csv module writes them, texts with the formula guard of csv_value; everything else through it.
        writer.writerow([v if v is None or (kind := type(v)) is int
                         else ("'" + v if needs_formula_guard(v) else v) if kind is str
                         else csv_value(v) for v in row])
        count += 1
        if count % rows_per_chunk == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


SHEET_NAME_MAX = 31
_SHEET_FORBIDDEN = str.maketrans({c: " " for c in "[]:*?/\\"})
# common words in school names, shortened as people write them, tried before a name is cut
_SHEET_ABBREVIATIONS = (("Onze-Lieve-Vrouw-", "OLV-"), ("Onze-Lieve-Vrouw ", "OLV "), ("Koninklijk Atheneum", "KA"), ("Sint-", "St-"),
                        ("Instituut", "Inst."), ("Katholiek", "Kath."), ("Technisch", "Techn."))


def sheet_name(name: str, used: set[str], fallback: str = "School") -> str:
    """A worksheet name for ``name`` that Excel accepts: without ``[]:*?/\\`` and control characters, not
    starting or ending with ``'``, at most 31 characters (common words shortened first, then cut with "…"),
    not Excel's reserved "History", and unique among ``used`` as Excel compares them (case-insensitively: " (2)", " (3)" … added).
    ``used`` holds the names taken so far, folded to lower case; the new one is added."""
    text = " ".join(xlsx_text(name).translate(_SHEET_FORBIDDEN).split()).strip("' ")
    for long, short in _SHEET_ABBREVIATIONS:
        if len(text) <= SHEET_NAME_MAX:
            break
        text = text.replace(long, short)
    text = _cut(text, SHEET_NAME_MAX) or fallback
    title, n = text, 2
    while title.casefold() in used or title.casefold() == "history":  # Excel reserves "History"
        suffix = f" ({n})"
        title, n = _cut(text, SHEET_NAME_MAX - len(suffix)) + suffix, n + 1
    used.add(title.casefold())
    return title


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit - 1].rstrip(" -'.,") + "…"
