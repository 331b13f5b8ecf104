"""A site's audit log written to a gzipped CSV archive, safely on disk before anything is deleted
(``lop-sidecar log prune`` and the purge of a site WordPress deleted)."""

from __future__ import annotations

import datetime as dt
import gzip
import os

from rules.spreadsheet import csv_chunks
from wp_bridge.audit_read import LogFilter, NameBook, stream
from wp_bridge.tables import SiteTables

from .api.log import ARCHIVE_HEADINGS, log_rows


def write_log_archive(rt, tables: SiteTables, path: str, until: dt.datetime | None = None) -> tuple[int, int]:
    """Write every log row (before ``until``, UTC, when given) to ``path``, which must not exist, and fsync
    it. Returns (rows written, highest log id written); an archive of no rows is removed again."""
    archived, max_id = 0, 0

    def counted(rows):
        nonlocal archived, max_id
        for row in rows:
            archived += 1
            max_id = max(max_id, int(row[0]))
            yield row

    book = NameBook(rt.engine, tables, rt.network.core)
    rows = counted(stream(rt.engine, tables, rt.network.core, LogFilter(until=until), names=book))
    with open(path, "xb") as raw, gzip.GzipFile(fileobj=raw, mode="wb") as archive:
        for chunk in csv_chunks(ARCHIVE_HEADINGS, log_rows(rows, rt.config.tz, book.people, book.schools, archive=True)):
            archive.write(chunk)
        archive.flush()
        raw.flush()
        os.fsync(raw.fileno())
    if archived == 0:
        os.remove(path)
    return archived, max_id
