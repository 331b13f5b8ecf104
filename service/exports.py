"""Export files, streamed as they are produced so that memory stays flat whatever the size: CSV, and XLSX
through the streaming writer in ``xlsx_stream``. Headings are Dutch, for LOP experts."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal

from flask import Response, stream_with_context

from rules.spreadsheet import EXCEL_MAX_ROWS, csv_chunks

from .xlsx_stream import stream_xlsx

CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


PERCENT = "0.00%"


@dataclass(frozen=True)
class Column:
    heading: str  # Dutch, as the LOP expert reads it
    width: float = 14
    number_format: str | None = None  # e.g. "0", "0.00", "@" (text); PERCENT: values in percent points (12.5 = 12,5 %)


def _as_fractions(rows: Iterable[Iterable], percent: list[int]) -> Iterator[list]:
    """Percent points (12.5) as the fractions (0.125) an Excel percentage format shows as 12,50%."""
    for row in rows:
        row = list(row)
        for i in percent:
            if row[i] is not None:
                row[i] = row[i] / (Decimal(100) if isinstance(row[i], Decimal) else 100)
        yield row


def download(filename: str, fmt: str, sheet: str, columns: list[Column], rows: Iterable[Iterable], *,
             title_rows: Sequence[str] = ()) -> Response:
    """A streamed attachment response in ``fmt`` ("csv" or "xlsx"). ``title_rows`` (the LOP's name, the school
    year…) head the Excel sheet; a CSV stays machine-readable: its header is its first line, percentages stay
    in percent points (12,50)."""
    if fmt == "csv":
        body = csv_chunks([c.heading for c in columns], rows)
        mimetype = CSV_TYPE
    else:
        percent = [i for i, c in enumerate(columns) if c.number_format == PERCENT]
        body = stream_xlsx(sheet, [c.heading for c in columns], [c.width for c in columns],
                           [c.number_format for c in columns], _as_fractions(rows, percent) if percent else rows,
                           max_rows=EXCEL_MAX_ROWS, title_rows=title_rows)
        mimetype = XLSX_TYPE
    response = Response(stream_with_context(body), content_type=mimetype)  # content_type: no second charset
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}.{fmt}"'
    response.headers["Cache-Control"] = "no-store"
    return response
