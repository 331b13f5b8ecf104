"""A site's audit log written to a gzipped CSV archive, safely on disk before anything is deleted
(``lop-sidecar log prune`` and the purge of a site WordPress deleted)."""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import gzip
import os
import secrets

from rules.spreadsheet import csv_chunks
from wp_bridge.audit_read import LogFilter, NameBook, stream
from wp_bridge.faults import fault_point
from wp_bridge.tables import SiteTables

from .api.log import ARCHIVE_HEADINGS, log_rows


def write_log_archive(rt, tables: SiteTables, path: str, until: dt.datetime | None = None) -> tuple[int, int]:
    """Write every log row (before ``until``, UTC, when given) to ``path``, which must not exist. The rows go to a
    temporary file beside it (``PATH.<random>.part``); only once that file is complete (the gzip stream closed,
    its trailer written) and synced to disk does it get the archive's name, by a hard link that never replaces
    a file, and the directory entry is synced too. A crash while writing leaves at most the ``.part`` file,
    never a partial archive under the archive's name; a write error (a full disk) removes it and is raised.
    Returns (rows written, highest log id written); an archive of no rows is not kept."""
    archived, max_id = 0, 0

    def counted(rows):
        nonlocal archived, max_id
        for row in rows:
            archived += 1
            max_id = max(max_id, int(row[0]))
            yield row

    book = NameBook(rt.engine, tables, rt.network.core)
    rows = counted(stream(rt.engine, tables, rt.network.core, LogFilter(until=until), names=book))
    if os.path.lexists(path):
        raise FileExistsError(errno.EEXIST, "the archive exists already", path)
    directory, name = os.path.split(os.path.abspath(path))
    partial = os.path.join(directory, f"{name}.{secrets.token_hex(4)}.part")
    try:
        with open(partial, "xb") as raw:
            with gzip.GzipFile(filename=name, fileobj=raw, mode="wb") as archive:
                for chunk in csv_chunks(ARCHIVE_HEADINGS, log_rows(rows, rt.config.tz, book.people, book.schools,
                                                                   archive=True)):
                    archive.write(chunk)
                    fault_point("log_prune.archive_chunk")
            raw.flush()
            os.fsync(raw.fileno())  # after the gzip trailer, which closing the GzipFile wrote
        if archived:
            os.link(partial, path)
            _fsync_directory(directory)  # the new name is on disk too before any row is deleted
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(partial)
    return archived, max_id


def _fsync_directory(directory: str) -> None:
    """A new name survives a power cut only once its directory entry is on disk too."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
