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
    it (the whole gzip stream, its trailer included, and the directory entry). Returns (rows written,
    highest log id written); an archive of no rows is removed again. When writing fails (a full disk), the
    partial file is removed and the error raised: no half archive is left to be taken for the log."""
    archived, max_id = 0, 0

    def counted(rows):
        nonlocal archived, max_id
        for row in rows:
            archived += 1
            max_id = max(max_id, int(row[0]))
            yield row

    book = NameBook(rt.engine, tables, rt.network.core)
    rows = counted(stream(rt.engine, tables, rt.network.core, LogFilter(until=until), names=book))
    created = False
    try:
        with open(path, "xb") as raw:  # "x": never overwrite an archive
            created = True
            with gzip.GzipFile(fileobj=raw, mode="wb") as archive:
                for chunk in csv_chunks(ARCHIVE_HEADINGS, log_rows(rows, rt.config.tz, book.people, book.schools,
                                                                   archive=True)):
                    archive.write(chunk)
            # closing the gzip stream wrote its last block and trailer: only now is the file complete
            raw.flush()
            os.fsync(raw.fileno())
        _fsync_directory(path)
    except BaseException:
        if created:  # a file that existed before is left alone
            os.remove(path)
        raise
    if archived == 0:
        os.remove(path)
    return archived, max_id


def _fsync_directory(path: str) -> None:
    """A new file survives a power cut only once its directory entry is on disk too."""
    fd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
