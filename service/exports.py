"""Export files, streamed as they are produced so that memory stays flat whatever the size: CSV, and XLSX
through the streaming writer in ``xlsx_stream``. Headings are Dutch, for LOP experts."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from flask import Response, stream_with_context

from rules.spreadsheet import EXCEL_MAX_ROWS, csv_chunks

from .xlsx_stream import stream_xlsx

CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class Column:
    heading: str  # Dutch, as the LOP expert reads it
    width: float = 14
    number_format: str | None = None  # e.g. "0", "0.00", "@" (text)


def download(filename: str, fmt: str, sheet: str, columns: list[Column], rows: Iterable[Iterable]) -> Response:
    """A streamed attachment response in ``fmt`` ("csv" or "xlsx")."""
    if fmt == "csv":
        body = csv_chunks([c.heading for c in columns], rows)
        mimetype = CSV_TYPE
    else:
        body = stream_xlsx(sheet, [c.heading for c in columns], [c.width for c in columns],
                           [c.number_format for c in columns], rows, max_rows=EXCEL_MAX_ROWS)
        mimetype = XLSX_TYPE
    response = Response(stream_with_context(body), content_type=mimetype)  # content_type: no second charset
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}.{fmt}"'
    response.headers["Cache-Control"] = "no-store"
    return response
