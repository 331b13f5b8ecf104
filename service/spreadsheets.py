"""What Excel files people read share: rows written with openpyxl (the template, the OV export) with every
text as a plain string cell; the title rows and header style of the streamed exports (``xlsx_stream``) for
openpyxl sheets too; the site's name in titles and file names."""

from __future__ import annotations

import html

from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter

from rules.spreadsheet import slug, xlsx_text

from .xlsx_stream import HEADER_FILL


def site_display_name(site) -> str:
    """A LOP site's name as people read it (WordPress stores the blog name HTML-escaped)."""
    return html.unescape(site.name or "").strip() or f"LOP-site {site.id}"


def export_file_name(what: str, site, *parts: str) -> str:
    """``vrije-plaatsen-lop-gent-so-2027-2028``: what, the site's name and e.g. the school year, ASCII with
    hyphens (without the extension)."""
    return "-".join([what, slug(site_display_name(site), f"site-{site.id}"), *parts])


def write_title_and_header(sheet, titles: list[str], headings: list[str], widths: list[float] | None = None) -> int:
    """An openpyxl sheet (not write-only) headed like the streamed exports: ``titles`` in bold above a bold,
    filled header row that stays in view and is printed on every page (landscape, one page wide). Returns the
    header's row number; call ``add_filter`` once the rows are in."""
    for line in titles:
        append_row(sheet, [line])
        sheet.cell(sheet.max_row, 1).font = Font(bold=True, size=13)
    append_row(sheet, headings)
    header = sheet.max_row
    style_header(sheet, header)
    for index, width in enumerate(widths or [], start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    return header


def style_header(sheet, header: int) -> None:
    """Row ``header`` as the column headings: bold on a fill, kept in view and printed on every page (landscape,
    one page wide) with everything above it."""
    fill, border = PatternFill("solid", fgColor=HEADER_FILL), Border(bottom=Side(style="thin"))
    for cell in sheet[header]:
        cell.font, cell.fill, cell.border = Font(bold=True), fill, border
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    sheet.freeze_panes = f"A{header + 1}"
    sheet.print_title_rows = f"1:{header}"
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.fitToWidth, sheet.page_setup.fitToHeight = 1, 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True


def add_filter(sheet, header: int) -> None:
    """An autofilter over the header row and every row below it."""
    sheet.auto_filter.ref = f"A{header}:{get_column_letter(max(sheet.max_column, 1))}{max(sheet.max_row, header)}"


def append_row(sheet, values) -> None:
    """``sheet.append`` with texts kept as texts: openpyxl would turn a text starting with ``=`` into a live
    formula (a school named ``=HYPERLINK(…)``); here it is a string cell showing exactly that text, without
    the control characters an XLSX file cannot hold."""
    sheet.append([xlsx_text(v) if isinstance(v, str) else v for v in values])
    for cell in sheet[sheet.max_row]:
        if isinstance(cell.value, str):
            cell.data_type = "s"
