"""Rows written with openpyxl (the template, the OV export): every text as a plain string cell."""

from __future__ import annotations

from rules.spreadsheet import xlsx_text


def append_row(sheet, values) -> None:
    """``sheet.append`` with texts kept as texts: openpyxl would turn a text starting with ``=`` into a live
    formula (a school named ``=HYPERLINK(…)``); here it is a string cell showing exactly that text, without
    the control characters an XLSX file cannot hold."""
    sheet.append([xlsx_text(v) if isinstance(v, str) else v for v in values])
    for cell in sheet[sheet.max_row]:
        if isinstance(cell.value, str):
            cell.data_type = "s"
