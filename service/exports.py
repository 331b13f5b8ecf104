"""Export files: CSV streamed as it is produced, XLSX (openpyxl write-only) built in a temporary file and
then streamed, so that memory stays flat whatever the size. Texts for LOP experts are Dutch."""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from flask import Response, stream_with_context
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from rules.spreadsheet import EXCEL_MAX_ROWS, csv_chunks, safe_cell

CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CHUNK = 256 * 1024


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
        body = _xlsx_chunks(sheet, columns, rows)
        mimetype = XLSX_TYPE
    response = Response(stream_with_context(body), mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}.{fmt}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def write_xlsx(target, sheet: str, columns: list[Column], rows: Iterable[Iterable]) -> int:
    """Write a workbook to ``target``: frozen header row, column widths and number formats; a new sheet when
    one is full (Excel's row limit). Returns the number of data rows."""
    workbook = Workbook(write_only=True)
    count = 0
    worksheet = None
    in_sheet = EXCEL_MAX_ROWS
    bold = Font(bold=True)
    for row in rows:
        if in_sheet >= EXCEL_MAX_ROWS:
            worksheet = workbook.create_sheet(sheet if worksheet is None else f"{sheet} ({len(workbook.worksheets) + 1})")
            worksheet.freeze_panes = "A2"
            worksheet.print_title_rows = "1:1"
            for index, column in enumerate(columns, start=1):
                worksheet.column_dimensions[get_column_letter(index)].width = column.width
            header = []
            for column in columns:
                cell = WriteOnlyCell(worksheet, value=column.heading)
                cell.font = bold
                header.append(cell)
            worksheet.append(header)
            in_sheet = 1
        cells = []
        for column, value in zip(columns, row, strict=True):
            value = safe_cell(value)
            if isinstance(value, dt.datetime) and value.tzinfo is not None:
                value = value.replace(tzinfo=None)  # Excel has no time zones; the heading says which
            if column.number_format:
                cell = WriteOnlyCell(worksheet, value=value)
                cell.number_format = column.number_format
                cells.append(cell)
            else:
                cells.append(value)
        worksheet.append(cells)
        in_sheet += 1
        count += 1
    if worksheet is None:  # no rows: still a workbook with its header
        worksheet = workbook.create_sheet(sheet)
        worksheet.freeze_panes = "A2"
        worksheet.append([c.heading for c in columns])
    workbook.save(target)
    return count


def _xlsx_chunks(sheet: str, columns: list[Column], rows: Iterable[Iterable]) -> Iterator[bytes]:
    with tempfile.TemporaryFile() as handle:
        write_xlsx(handle, sheet, columns, rows)
        handle.seek(0)
        while chunk := handle.read(CHUNK):
            yield chunk
