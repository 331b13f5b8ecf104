"""A client for the Onderwijs Vlaanderen API: every page of a listing, or a clear failure.

Pages are read with ``page`` (from 1) and ``size``; the listing ends at ``meta.last`` or
``meta.total_pages``, and the number of records received must equal ``meta.total_elements``.
5xx answers, connection errors, timeouts and bodies cut short of their announced length are retried with
exponential backoff, a 429 waits for its ``Retry-After``; after a bounded number of attempts the fetch
fails. The whole fetch of a run (both listings, every retry and wait) has a deadline (jobs/feed_http.py): a
server that drips its answer, or a wait that would end after it, fails the fetch. The API key goes in the
``x-api-key`` header and is never logged.
"""

from __future__ import annotations

import email.utils
import json
import logging
import time
from collections.abc import Callable
from urllib.parse import urlparse

from .feed_http import TRANSIENT, Deadline, DeadlinePassed

log = logging.getLogger("lop_sidecar.jobs.ov")

OFFERING_PATH = "/instellingsgegevens/onderwijsaanbod_so/v2/ingerichteadministratievegroep"
CATALOGUE_PATH = "/instellingsgegevens/onderwijsaanbod_so/v2/administratievegroep"
PAGE_SIZE = 5000
READ_TIMEOUT = 60
DEADLINE_SECONDS = 1800  # LOP_OV_DEADLINE_SECONDS: the whole fetch of a run
ATTEMPTS = 5
MAX_RETRY_AFTER_SECONDS = 300


class OvFetchError(Exception):
    """The feed could not be read completely and consistently; nothing may be stored."""


def _retry_after(headers) -> float:
    value = (headers.get("Retry-After") or "").strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER_SECONDS)
    try:
        when = email.utils.parsedate_to_datetime(value)
        return max(0.0, min(when.timestamp() - time.time(), MAX_RETRY_AFTER_SECONDS))
    except (TypeError, ValueError):
        return 30.0


class OvClient:
    def __init__(self, base_url: str, api_key: str | None, *, page_size: int = PAGE_SIZE, attempts: int = ATTEMPTS,
                 backoff: float = 1.0, sleep: Callable[[float], None] | None = None, read_timeout: float = READ_TIMEOUT,
                 deadline: Deadline | None = None):
        self.base_url = base_url.rstrip("/")
        self.deadline = deadline or Deadline(DEADLINE_SECONDS, "LOP_OV_DEADLINE_SECONDS")
        self.session = self.deadline.session()
        if api_key:
            self.session.headers["x-api-key"] = api_key
        self.session.headers["Accept"] = "application/json"
        self.page_size = page_size
        self.attempts = attempts
        self.backoff = backoff
        self.read_timeout = read_timeout
        self.sleep = sleep or time.sleep

    def _page(self, path: str, page: int) -> dict:
        url = f"{self.base_url}{path}"
        where = f"{path} page {page}"
        for attempt in range(1, self.attempts + 1):
            try:
                # never follow a redirect: the API key would go along to wherever it points
                with self.session.get(url, params={"page": page, "size": self.page_size}, allow_redirects=False,
                                      timeout=self.deadline.timeout(self.read_timeout), verify=True,
                                      stream=True) as response:
                    status, headers = response.status_code, response.headers
                    body = response.content if status == 200 else b""
                self.deadline.check()  # a body without a length that the deadline cut short is no answer
            except DeadlinePassed:
                raise OvFetchError(f"{where}: {self.deadline.message}") from None
            except TRANSIENT as exc:
                if self.deadline.passed():
                    raise OvFetchError(f"{where}: {self.deadline.message}") from None
                reason, wait = type(exc).__name__, self.backoff * 2 ** (attempt - 1)
            else:
                if status == 200:
                    try:
                        return json.loads(body)
                    except ValueError:
                        raise OvFetchError(f"{where}: the answer is not valid JSON") from None
                if 300 <= status < 400:
                    target = urlparse(headers.get("Location") or "").hostname or "(no location)"
                    raise OvFetchError(f"{where}: HTTP {status} redirect to {target} refused "
                                       "(the API key is only sent to LOP_OV_API_URL)")
                if status == 429:
                    reason, wait = "HTTP 429", _retry_after(headers)
                elif status >= 500:
                    reason, wait = f"HTTP {status}", self.backoff * 2 ** (attempt - 1)
                else:
                    raise OvFetchError(f"{where}: HTTP {status}"
                                       + (" (check LOP_OV_API_KEY)" if status in (401, 403) else ""))
            if attempt == self.attempts:
                raise OvFetchError(f"{where}: gave up after {self.attempts} attempts (last: {reason})")
            if not self.deadline.allows_wait(wait):
                raise OvFetchError(f"{where}: gave up after {attempt} attempts (last: {reason}): the next one, "
                                   f"in {wait:g} s, would start after {self.deadline.name}")
            log.warning("%s: %s; retrying in %.0f s", where, reason, wait)
            self.sleep(wait)
        raise AssertionError("unreachable")

    def fetch_all(self, path: str, progress: Callable[[int], None] | None = None) -> tuple[list, int]:
        """Every record of a listing and the number of pages read."""
        records: list = []
        page, expected = 1, None
        while True:
            body = self._page(path, page)
            meta, content = (body.get("meta"), body.get("content")) if isinstance(body, dict) else (None, None)
            if not isinstance(meta, dict) or not isinstance(content, list):
                raise OvFetchError(f"{path} page {page}: unexpected shape (expected meta and content)")
            total, pages = meta.get("total_elements"), meta.get("total_pages")
            if not isinstance(total, int) or not isinstance(pages, int):
                raise OvFetchError(f"{path} page {page}: meta.total_elements or meta.total_pages missing")
            if expected is not None and total != expected:
                raise OvFetchError(f"{path}: total_elements changed from {expected} to {total} while paging")
            expected = total
            records.extend(content)
            if progress:
                progress(len(records))
            if meta.get("last") is True or page >= pages or not content:
                break
            page += 1
        if len(records) != expected:
            raise OvFetchError(f"{path}: received {len(records)} records, meta.total_elements says {expected}")
        return records, page
