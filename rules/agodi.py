"""AgODi's administrative-groups file (Edison "download lerenden", e.g. ``20190218 AG.txt``): parsing,
validation and the comparison with the stored catalogue. Pure: bytes in, data out.

The file's exact layout is not published, so nothing is guessed silently: the encoding is sniffed
(UTF-8 with or without BOM, else cp1252), the delimiter is sniffed (tab, ``;`` or ``|``), and columns
are found **by header name** through ``COLUMN_NAMES`` below. A file with a missing required column or
any bad row is refused as a whole, with up to 50 problems and their line numbers.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field

from .offerings import AN_ADMGR, AN_NAME
from .stages import catalogue_stage

MAX_PROBLEMS = 50

# field -> accepted header spellings, compared after folding (lower case, no accents, only letters and
# digits: "Administratieve groep", "administratieve_groep" and "ADMINISTRATIEVEGROEP" are all the same).
COLUMN_NAMES: dict[str, tuple[str, ...]] = {
    "code": ("code", "admgr", "admgrcode", "admgrnummer", "agcode", "agnummer", "administratievegroep",
             "administratievegroepcode", "administratievegroepnummer", "codeadministratievegroep", "nummer"),
    "description": ("omschrijving", "description", "naam", "benaming", "agomschrijving", "admgromschrijving",
                    "administratievegroepomschrijving", "omschrijvingadministratievegroep", "omschrijvingag"),
    "onderwijsniveau": ("onderwijsniveau", "niveau", "onderwijsniveaucode", "level"),
    "onderwijsvorm": ("onderwijsvorm", "onderwijsvormso", "onderwijsvormcode", "vorm"),
    "graad": ("graad", "graadcode", "graadnummer"),
    "leerjaar": ("leerjaar", "leerjaarcode", "leerjaarnummer"),
    "structuuronderdeel": ("structuuronderdeel", "structuuronderdeelcode", "structuuronderdeelnummer", "stonr", "stuo"),
    "begin_date": ("begindatum", "startdatum", "datumbegin", "datumvan", "geldigvanaf", "vanaf", "begin"),
    "end_date": ("einddatum", "datumeinde", "datumtot", "geldigtot", "tot", "einde"),
}
REQUIRED = ("code", "description")
FIELDS = tuple(COLUMN_NAMES)
# Derived, not a column: the stage (rules.stages) from the level or structure column where the file has one,
# else from the description. Always part of a parsed file's fields.
STAGE = "stage"
WRITTEN = (*FIELDS, STAGE)
# 10000 (anderstalige nieuwkomers) is the LOPs' own code, absent from AgODi's file: a sync never deactivates it
# and puts it (back) in the catalogue when it is missing or inactive.
AN_ENTRY = {"code": AN_ADMGR, "description": AN_NAME, "onderwijsniveau": "BaO", STAGE: None}
DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%Y%m%d")


class AgodiFileError(ValueError):
    """The file is refused; ``problems`` lists what is wrong (with line numbers where there are any)."""

    def __init__(self, message: str, problems: list[str] | None = None):
        super().__init__(message)
        self.message = message
        self.problems = problems or []

    def __str__(self) -> str:
        if not self.problems:
            return self.message
        return self.message + ": " + "; ".join(self.problems)


@dataclass
class ParsedFile:
    rows: dict[int, dict]  # code -> {field: value} for the fields present in the file
    present: tuple[str, ...]  # fields the file has columns for
    ignored_columns: list[str]
    encoding: str
    delimiter: str
    member: str | None = None  # the file inside a ZIP


def fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return re.sub(r"[^a-z0-9]", "", "".join(c for c in decomposed if not unicodedata.combining(c)).lower())


_HEADER_INDEX = {fold(name): field_ for field_, names in COLUMN_NAMES.items() for name in names}


def unpack(data: bytes, max_bytes: int) -> tuple[bytes, str | None]:
    """The AG table itself: the bytes as given, or the one AG file inside a ZIP."""
    if not data.startswith(b"PK\x03\x04"):
        return data, None
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise AgodiFileError("the file looks like a ZIP but cannot be opened") from None
    members = [m for m in archive.infolist() if not m.is_dir() and m.filename.lower().endswith(".txt")]
    tables = [m for m in members if re.search(r"(^|[^a-z])ag\.txt$", m.filename.lower())
              and "wijz" not in m.filename.lower()]
    candidates = tables or (members if len(members) == 1 else [])
    if len(candidates) != 1:
        names = ", ".join(m.filename for m in members) or "none"
        raise AgodiFileError(f"the ZIP must hold exactly one AG table (…AG.txt); its .txt files: {names}")
    member = candidates[0]
    if member.file_size > max_bytes:
        raise AgodiFileError(f"{member.filename} unpacks to {member.file_size} bytes, more than {max_bytes}")
    with archive.open(member) as handle:
        content = handle.read(max_bytes + 1)
    if len(content) > max_bytes:
        raise AgodiFileError(f"{member.filename} is larger than {max_bytes} bytes")
    return content, member.filename


def decode(data: bytes) -> tuple[str, str]:
    """(text, encoding): UTF-8 (a BOM is dropped), else cp1252; anything else is refused."""
    if b"\x00" in data:
        raise AgodiFileError("the file contains NUL bytes: not a UTF-8 or cp1252 text file (UTF-16?)")
    if data.startswith(b"\xef\xbb\xbf"):
        data, encoding = data[3:], "utf-8-sig"
    else:
        encoding = "utf-8"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        try:
            text, encoding = data.decode("cp1252"), "cp1252"
        except UnicodeDecodeError as exc:
            raise AgodiFileError(f"the file is neither UTF-8 nor cp1252 (byte {exc.start})") from None
    if "\ufffd" in text:
        raise AgodiFileError("the file contains replacement characters (U+FFFD): it was damaged by a wrong conversion")
    return text, encoding


def _looks_like_html(text: str) -> bool:
    start = text.lstrip()[:200].lower()
    return start.startswith(("<!doctype", "<html", "<?xml", "<head", "<body")) or "<html" in start


def sniff_delimiter(header: str) -> str:
    counts = {d: header.count(d) for d in ("\t", ";", "|")}
    best = max(counts.values())
    winners = [d for d, n in counts.items() if n == best]
    if best == 0 or len(winners) > 1:
        raise AgodiFileError("cannot tell the delimiter from the header line (expected tabs, ';' or '|')")
    return winners[0]


def map_header(columns: list[str]) -> tuple[dict[int, str], list[str]]:
    """Column index -> field, and the names of the columns that are ignored."""
    mapping, seen, ignored = {}, {}, []
    for index, name in enumerate(columns):
        field_ = _HEADER_INDEX.get(fold(name))
        if field_ is None:
            if name.strip():
                ignored.append(name.strip())
            continue
        if field_ in seen:
            raise AgodiFileError(f"columns {seen[field_]!r} and {name.strip()!r} both mean {field_}")
        seen[field_] = name.strip()
        mapping[index] = field_
    missing = [f for f in REQUIRED if f not in seen]
    if missing:
        raise AgodiFileError("required column(s) missing: " + ", ".join(
            f"{f} (e.g. {COLUMN_NAMES[f][0]!r})" for f in missing) + f"; header found: {', '.join(c.strip() for c in columns)}")
    return mapping, ignored


def _date(value: str) -> dt.date | None:
    for fmt in DATE_FORMATS:
        try:
            return dt.datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    raise ValueError


def _small_int(value: str) -> int:
    if not value.isdigit() or len(value) > 4:
        raise ValueError
    return int(value)


def parse(data: bytes, max_bytes: int = 50 * 1024 * 1024) -> ParsedFile:
    content, member = unpack(data, max_bytes)
    text, encoding = decode(content)
    if not text.strip():
        raise AgodiFileError("the file is empty")
    if _looks_like_html(text):
        raise AgodiFileError("this is an HTML page, not the AG table (an error page or a login page?)")
    lines = text.splitlines()
    header_line = next((i for i, line in enumerate(lines) if line.strip()), None)
    delimiter = sniff_delimiter(lines[header_line])
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"', strict=True)
    problems: list[str] = []
    rows: dict[int, dict] = {}
    first_line: dict[int, int] = {}
    mapping: dict[int, str] | None = None
    ignored: list[str] = []
    try:
        for record in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in record):
                continue  # blank lines
            if mapping is None:
                mapping, ignored = map_header(record)
                width = len(record)
                continue
            if len(record) != width:
                problems.append(f"line {line}: {len(record)} fields, the header has {width}")
                continue
            values, row_problems = _row(record, mapping, line)
            problems += row_problems
            code = values.get("code")
            if code is None:
                continue
            if code in first_line:
                problems.append(f"line {line}: code {code} is also on line {first_line[code]}")
                continue
            first_line[code] = line
            values[STAGE] = catalogue_stage(code, values.get("onderwijsniveau"), values.get("description"),
                                            values.get("structuuronderdeel"))
            rows[code] = values
            if len(problems) >= MAX_PROBLEMS:
                break
    except csv.Error as exc:
        problems.append(f"line {reader.line_num}: {exc}")
    if problems:
        raise AgodiFileError(f"the file has {len(problems)}{'+' if len(problems) >= MAX_PROBLEMS else ''} "
                             "problem(s) and is refused", problems[:MAX_PROBLEMS])
    if not rows:
        raise AgodiFileError("the file has a header but no rows")
    present = tuple(f for f in FIELDS if f in mapping.values()) + (STAGE,)
    return ParsedFile(rows, present, ignored, encoding, delimiter, member)


def _row(record: list[str], mapping: dict[int, str], line: int) -> tuple[dict, list[str]]:
    values: dict = {}
    problems: list[str] = []
    for index, field_ in mapping.items():
        raw = record[index].strip()
        try:
            if field_ == "code":
                if not raw.isdigit():
                    raise ValueError
                values["code"] = int(raw)
            elif field_ in ("graad", "leerjaar"):
                values[field_] = _small_int(raw) if raw else None
            elif field_ in ("begin_date", "end_date"):
                values[field_] = _date(raw) if raw else None
            elif field_ == "description":
                if not raw:
                    raise ValueError
                values[field_] = raw[:255]
            elif field_ == "onderwijsvorm":
                values[field_] = raw.upper()[:20] or None
            else:
                values[field_] = raw[:50] or None
        except ValueError:
            what = {"code": "a numeric code", "graad": "a number", "leerjaar": "a number", "description": "a description",
                    "begin_date": "a date", "end_date": "a date"}[field_]
            problems.append(f"line {line}: {field_} {raw!r} is not {what}")
    return values, problems


# --- comparing with the stored catalogue ----------------------------------------------------------


@dataclass
class CatalogueDiff:
    added: list[dict] = field(default_factory=list)
    updated: list[dict] = field(default_factory=list)  # complete new values of changed rows
    unchanged: int = 0
    deactivated: list[int] = field(default_factory=list)
    changes: list[tuple] = field(default_factory=list)  # (code, field, old, new)
    an: str | None = None  # "added" or "reactivated" when the sync puts AN (10000) back; not in the counts


def _merged_stage(code: int, stored: dict | None, incoming: dict, present: tuple[str, ...]) -> str | None:
    """The stage from the file's values over the stored ones (a file without a level column keeps the stored
    level); when neither tells, the stored stage stays (it is never erased by a file that cannot tell)."""
    merged = {**(stored or {}), **{f: incoming.get(f) for f in present if f != STAGE}}
    stage = catalogue_stage(code, merged.get("onderwijsniveau"), merged.get("description"),
                            merged.get("structuuronderdeel"))
    if stage is None and stored is not None and code != AN_ADMGR:
        return stored.get(STAGE)
    return stage


def diff_catalogue(current: dict[int, dict], parsed: ParsedFile) -> CatalogueDiff:
    """What a sync changes. Only the fields the file has are compared (and written); a code that is
    inactive and back in the file is reactivated; active codes missing from the file are deactivated — except
    AN (10000), the LOPs' own code, which is added or reactivated instead (``an``)."""
    result = CatalogueDiff()
    for code, incoming in parsed.rows.items():
        stored = current.get(code)
        if STAGE in parsed.present:
            incoming = {**incoming, STAGE: _merged_stage(code, stored, incoming, parsed.present)}
        if stored is None:
            result.added.append(incoming)
            result.changes.append((code, "*", None, "added"))
            continue
        changed = [(f, stored.get(f), incoming.get(f)) for f in parsed.present if f != "code" and stored.get(f) != incoming.get(f)]
        if not stored.get("active", True):
            changed.append(("active", False, True))
        if changed:
            result.updated.append(incoming)
            result.changes += [(code, f, old, new) for f, old, new in changed]
        else:
            result.unchanged += 1
    for code, stored in sorted(current.items()):
        if stored.get("active", True) and code not in parsed.rows and code != AN_ADMGR:
            result.deactivated.append(code)
            result.changes.append((code, "active", True, False))
    if AN_ADMGR not in parsed.rows:
        stored = current.get(AN_ADMGR)
        if stored is None:
            result.an = "added"
            result.changes.append((AN_ADMGR, "*", None, "added"))
        elif not stored.get("active", True):
            result.an = "reactivated"
            result.changes.append((AN_ADMGR, "active", False, True))
    return result


def summary_line(in_file: int, diff: CatalogueDiff) -> str:
    return (f"{in_file} in file: {len(diff.added)} added, {len(diff.updated)} updated, {diff.unchanged} unchanged, "
            f"{len(diff.deactivated)} no longer in file")
