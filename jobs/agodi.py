"""The ``agodi-sync`` job: keep the administrative-group catalogue in step with AgODi's Edison file."""

from __future__ import annotations

import logging
import os
import time

import requests

from rules.agodi import AgodiFileError, diff_catalogue, parse, summary_line
from wp_bridge.catalogue import active_count, apply_diff, load_current
from wp_bridge.faults import fault_point

from .feed_http import TRANSIENT, Deadline, DeadlinePassed
from .registry import DAY, JobOption, JobRefused, JobResult, JobSpec, register

log = logging.getLogger("lop_sidecar.jobs.agodi")

MAX_BYTES = 50 * 1024 * 1024
SHRINK_GUARD = 0.85  # a file with fewer than 85% of the active codes is refused without --force
READ_TIMEOUT = 120  # the longest wait for the next bytes (the connection's is feed_http.CONNECT_TIMEOUT)
DEADLINE_SECONDS = 600  # LOP_AGODI_DEADLINE_SECONDS: the whole download, retries and waits included
ATTEMPTS = 4
BACKOFF_SECONDS = 2.0


def fetch(source: str, *, deadline: Deadline | None = None, sleep=time.sleep) -> bytes:
    """The file at a URL (with retries on 5xx, connection errors, timeouts and downloads cut short, a size
    cap, and the whole download within ``deadline``) or a local path."""
    if not source.startswith(("http://", "https://")):
        try:
            if os.path.getsize(source) > MAX_BYTES:
                raise JobRefused(f"{source} is larger than {MAX_BYTES // (1024 * 1024)} MB")
            with open(source, "rb") as handle:
                return handle.read()
        except OSError as exc:
            raise JobRefused(f"cannot read {source}: {exc.strerror}") from None
    deadline = deadline or Deadline(DEADLINE_SECONDS, "LOP_AGODI_DEADLINE_SECONDS")
    session = deadline.session()
    for attempt in range(1, ATTEMPTS + 1):
        try:
            with session.get(source, timeout=deadline.timeout(READ_TIMEOUT), stream=True) as response:
                if response.status_code >= 500:
                    raise requests.HTTPError(f"HTTP {response.status_code}", response=response)
                if response.status_code != 200:
                    raise JobRefused(f"the download answered HTTP {response.status_code}")
                declared = int(response.headers.get("Content-Length") or 0)
                if declared > MAX_BYTES:
                    raise JobRefused(f"the download is {declared} bytes, more than the {MAX_BYTES} allowed")
                body = bytearray()
                for chunk in response.iter_content(1024 * 1024):
                    body += chunk
                    if len(body) > MAX_BYTES:
                        raise JobRefused(f"the download is larger than {MAX_BYTES} bytes")
            deadline.check()  # a body without a length that the deadline cut short is no file
            return bytes(body)
        except DeadlinePassed:
            raise JobRefused(f"the download was stopped: {deadline.message}") from None
        except (*TRANSIENT, requests.HTTPError) as exc:
            if deadline.passed():
                raise JobRefused(f"the download was stopped: {deadline.message}") from None
            status = getattr(getattr(exc, "response", None), "status_code", None)
            last = f"HTTP {status}" if status else type(exc).__name__
            if attempt == ATTEMPTS:
                raise JobRefused(f"the download failed {ATTEMPTS} times (last: {last})") from None
            wait = BACKOFF_SECONDS * 2 ** (attempt - 1)
            if not deadline.allows_wait(wait):
                raise JobRefused(f"the download failed {attempt} times (last: {last}): the next attempt, in {wait:g} s, "
                                 f"would start after {deadline.name}") from None
            log.warning("download attempt %s failed (%s); retrying in %.0f s", attempt, last, wait)
            sleep(wait)
    raise AssertionError("unreachable")


def run_agodi_sync(ctx) -> JobResult:
    source = ctx.options.get("source") or ctx.config.agodi_url
    if not source:
        raise JobRefused("no source: set LOP_AGODI_URL or pass --source URL|PATH")
    with Deadline(ctx.config.agodi_deadline_seconds, "LOP_AGODI_DEADLINE_SECONDS") as deadline:
        data = fetch(source, deadline=deadline)
    ctx.check_stop()
    try:
        parsed = parse(data, MAX_BYTES)
    except AgodiFileError as exc:
        raise JobRefused(f"file refused: {exc}") from None
    nt = ctx.runtime.network_tables
    with ctx.engine.begin() as conn:
        active = active_count(conn, nt)
        if active and len(parsed.rows) < SHRINK_GUARD * active and not ctx.options.get("force"):
            raise JobRefused(f"file refused: it has {len(parsed.rows)} codes, fewer than 85% of the {active} active "
                             "ones (a truncated download?); use --force if this is right")
        diff = diff_catalogue(load_current(conn, nt), parsed)
        if not ctx.dry_run:
            apply_diff(conn, nt, parsed, diff, ctx.runtime.today(), progress=ctx.progress)
            fault_point("agodi.before_commit")
    stats = {
        "in_file": len(parsed.rows), "added": len(diff.added), "updated": len(diff.updated),
        "unchanged": diff.unchanged, "no_longer_in_file": len(diff.deactivated), "an": diff.an,
        "encoding": parsed.encoding, "delimiter": {"\t": "tab"}.get(parsed.delimiter, parsed.delimiter),
        "columns": list(parsed.present), "ignored_columns": parsed.ignored_columns, "zip_member": parsed.member,
        "changes": [list(change) for change in diff.changes], "dry_run": ctx.dry_run,
    }
    return JobResult(summary_line(len(parsed.rows), diff), stats)


register(JobSpec(
    name="agodi-sync", description="sync the administrative-group catalogue with AgODi's Edison AG file",
    run=run_agodi_sync, default_schedule="0 4 * * 1", misfire_grace_seconds=DAY,
    options=(JobOption("source", str, "a URL or local PATH instead of LOP_AGODI_URL (ZIP accepted)", cli_only=True),
             JobOption("force", bool, "accept a file with fewer than 85% of the active codes")),
))
