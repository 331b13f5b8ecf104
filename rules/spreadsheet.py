"""What every export of this project shares: cells safe from formula injection, and CSV as Excel
with Belgian settings opens it (UTF-8 with BOM, ``;`` separator, CRLF line ends)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Iterator
from decimal import Decimal

EXCEL_MAX_ROWS = 1_048_576
BOM = "\ufeff"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_FIRST = frozenset(_FORMULA_START)


def safe_cell(value):
    """A text that a spreadsheet would run as a formula is prefixed with ``'`` so that it shows as text."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def csv_value(value) -> str:
    kind = type(value)
    if kind is int:
        return str(value)
    if kind is str:
        return "'" + value if value.startswith(_FORMULA_START) else value
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
                         else ("'" + v if v[:1] in _FORMULA_FIRST else v) if kind is str
                         else csv_value(v) for v in row])
        count += 1
        if count % rows_per_chunk == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")
