"""Feeds misbehaving (issue 18, faults item 4): real ``lop-sidecar jobs run ov-sync`` and ``agodi-sync``
processes against a local HTTP server on a thread that answers as Onderwijs Vlaanderen's API or AgODi's
download would — but slowly (a drip of a few bytes a second), not at all, with 429 and ``Retry-After``, with
5xx bursts, or with a body cut half-way. Each run either gets the whole feed within its retries and stores it,
or fails within its total deadline (``LOP_OV_DEADLINE_SECONDS``, ``LOP_AGODI_DEADLINE_SECONDS``) with a clear
error, and the stored OV snapshot and the catalogue are byte for byte what they were.

(``responses`` cannot drip bytes or cut a connection, hence a real server.)
"""

from __future__ import annotations

import itertools
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

import orjson
import pytest

from bench._seed import seed_site
from jobs.ov_client import CATALOGUE_PATH, OFFERING_PATH
from service.config import ConfigError, load_config
from tests.e2e.fake_ov import catalogue_entry, offering
from tests.test_agodi import HEADER, make_file

from .processes import Sidecar, dump_tables, scalar, wait_until

KEY = "feeds-fault-key"
AG_PATH = "/sites/default/files/20260601 AG.txt"
PAGE = 40  # records a page (the real API pages by ``size``; the client follows ``meta``, as with the real one)
DRIP_BYTES, DRIP_SECONDS = 3, 0.5  # the drip: 6 bytes a second
STORED = ("wp_lop_ov_offerings", "wp_lop_admgr")  # what an ov-sync or agodi-sync run may change


@dataclass
class Hit:
    """One request the server received, what it did with it, and when the client went away (if it did)."""
    path: str
    page: int | None
    behaviour: str
    at: float
    gone_at: float | None = None
    sent: int = 0
    length: int = 0


class MisbehavingFeed:
    """OV's two listings and AgODi's file on 127.0.0.1. ``plan(key, *behaviours)`` scripts the answers for a
    path, or for one page of a path: each request takes the next behaviour, the last one repeats; the
    default is ``ok``. Behaviours: ``ok``; an HTTP status (``503``); ``429:SECONDS`` (with ``Retry-After``);
    ``hang`` (never answers); ``drip-headers`` and ``drip-body`` (a few bytes a second); ``cut`` (half the
    announced ``Content-Length``, then the connection closes), ``cut-chunked`` (chunked, ends without the
    last chunk), ``cut-close`` (no length, half the body, closed)."""

    def __init__(self):
        self.offerings: list[dict] = []
        self.catalogue: list[dict] = []
        self.ag_file = b""
        self.hits: list[Hit] = []
        self.stopping = threading.Event()
        self._script: dict[object, list[str]] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="misbehaving-feed", daemon=True).start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def reset(self) -> None:
        self._script.clear()
        self.hits.clear()

    def plan(self, key, *behaviours: str) -> None:
        self._script[key] = list(behaviours)

    def next_behaviour(self, path: str, page: int | None) -> str:
        with self._lock:
            queue = self._script.get((path, page)) or self._script.get(path) or ["ok"]
            return queue.pop(0) if len(queue) > 1 else queue[0]

    def hits_for(self, path: str, page: int | None = None) -> list[Hit]:
        return [h for h in self.hits if h.path == path and (page is None or h.page == page)]

    def close(self) -> None:
        self.stopping.set()  # ends drips and hangs a failed test left behind
        self._server.shutdown()
        self._server.server_close()


def _page_body(records: list[dict], number: int) -> bytes:
    total_pages = max(1, -(-len(records) // PAGE))
    return orjson.dumps({"meta": {"total_elements": len(records), "total_pages": total_pages, "number": number,
                                  "last": number >= total_pages},
                         "content": records[(number - 1) * PAGE:number * PAGE]})


def _handler(feed: MisbehavingFeed):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            path, page = unquote(parts.path), int(query["page"]) if "page" in query else None
            behaviour = feed.next_behaviour(path, page)
            hit = Hit(path, page, behaviour, time.monotonic())
            feed.hits.append(hit)
            if path == AG_PATH:
                body, kind = feed.ag_file, "text/plain; charset=utf-8"
            elif path in (OFFERING_PATH, CATALOGUE_PATH) and self.headers.get("x-api-key") == KEY:
                records = feed.offerings if path == OFFERING_PATH else feed.catalogue
                body, kind = _page_body(records, page or 1), "application/json"
            else:
                return self._answer(404, orjson.dumps({"message": "Not Found"}))
            hit.length = len(body)
            head = f"HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            half = len(body) // 2
            if behaviour == "ok":
                self._answer(200, body, kind)
            elif behaviour.isdigit():
                self._answer(int(behaviour), orjson.dumps({"message": "Service Unavailable"}))
            elif behaviour.startswith("429:"):
                self._answer(429, orjson.dumps({"message": "Too Many Requests"}),
                             headers={"Retry-After": behaviour.split(":")[1]})
            elif behaviour == "hang":
                self._hang(hit)
            elif behaviour == "drip-headers":
                self._drip(hit, head + body)
            elif behaviour == "drip-body":
                self.wfile.write(head)
                self._drip(hit, body)
            elif behaviour == "cut":
                self._cut(head + body[:half])
            elif behaviour == "cut-chunked":
                chunked = f"HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
                self._cut(chunked + f"{len(body):x}\r\n".encode() + body[:half])
            elif behaviour == "cut-close":
                self._cut(f"HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nConnection: close\r\n\r\n".encode() + body[:half])
            else:
                raise AssertionError(f"unknown behaviour {behaviour!r}")

        def _answer(self, status: int, body: bytes, kind: str = "application/json", headers: dict | None = None):
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def _cut(self, data: bytes) -> None:
            self.wfile.write(data)
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)

        def _drip(self, hit: Hit, data: bytes) -> None:
            """A few bytes at a time until the client goes away (the pace is the behaviour, not a wait)."""
            self.close_connection = True
            for start in range(0, len(data), DRIP_BYTES):
                try:
                    self.wfile.write(data[start:start + DRIP_BYTES])
                except OSError:
                    break
                hit.sent += len(data[start:start + DRIP_BYTES])
                if feed.stopping.wait(DRIP_SECONDS):
                    return
            hit.gone_at = time.monotonic()

        def _hang(self, hit: Hit) -> None:
            """Read the request and never answer; note when the client gives up (it closes the connection)."""
            self.close_connection = True
            self.connection.settimeout(0.2)
            while not feed.stopping.is_set():
                try:
                    if self.connection.recv(1) == b"":
                        break
                except TimeoutError:
                    continue
                except OSError:
                    break
            hit.gone_at = time.monotonic()

    return Handler


# --- the data --------------------------------------------------------------------------------------

SO_CODES = [55001, 55002, 55101, 55102, 55103]


@dataclass
class World:
    url: str
    feed: MisbehavingFeed
    year: int
    env: dict


@pytest.fixture(scope="module")
def world(database_factories):
    """One database for the module (each test compares the stored tables before and after its own run): site 2
    with 20 SO schools and the demo catalogue, a good OV snapshot stored by a first sync (feed A, 100 records
    in 3 pages); then the server holds feed B (130 records in 4 pages, a code the catalogue lacks), which a
    faulty run must never store."""
    url = database_factories("mysql").new_url()
    engine, _network, info = seed_site(url, 20, 6)
    engine.dispose()
    feed = MisbehavingFeed()
    year = int(info["current"][:4])
    w = World(url, feed, year, {"LOP_OV_API_URL": feed.url, "LOP_OV_API_KEY": KEY, "LOP_AGODI_URL": feed.url + AG_PATH})
    feed.offerings = [offering(100000 + s, 1, code, year) for s in range(20) for code in SO_CODES]
    feed.catalogue = [catalogue_entry(code, 1, 1, "ASO", year) for code in SO_CODES]
    first = Sidecar(url).run("jobs", "run", "ov-sync", **w.env)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("100 records in 3 pages")
    feed.offerings = feed.offerings + [offering(200000 + n, 1, 58888, year, "Nieuwe richting") for n in range(30)]
    feed.catalogue = feed.catalogue + [catalogue_entry(58888, 2, 3, "TSO", year)]
    yield w
    feed.close()


@pytest.fixture
def sidecar(world) -> Sidecar:
    world.feed.reset()
    return Sidecar(world.url)


def run(sidecar, w: World, job: str, **env: str):
    started = time.monotonic()
    result = sidecar.run("jobs", "run", job, **w.env, **env)
    return result, time.monotonic() - started


def last_run(url: str) -> tuple[str, str | None]:
    return (scalar(url, "SELECT status FROM wp_lop_job_runs ORDER BY id DESC LIMIT 1"),
            scalar(url, "SELECT error FROM wp_lop_job_runs ORDER BY id DESC LIMIT 1"))


def run_seconds(url: str) -> float:
    """How long the last run took, from its own row (started when claimed, finished when recorded)."""
    return scalar(url, "SELECT TIMESTAMPDIFF(MICROSECOND, started_at, finished_at) FROM wp_lop_job_runs "
                       "ORDER BY id DESC LIMIT 1") / 1e6


def client_gone(hit: Hit) -> float:
    """When the client went away from a drip or hang (the server notices at its next write or read)."""
    return wait_until(lambda: hit.gone_at, timeout=10, what=f"the client leaving {hit.behaviour}")


def assert_failed_and_untouched(w: World, result, before: dict, error: str) -> None:
    """The run failed with ``error`` (the command line's last line and the run's row) and stored nothing."""
    job = "agodi-sync" if "download" in error or "file" in error else "ov-sync"
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert result.stderr.strip().splitlines()[-1].startswith(f"lop-sidecar: {job} failed: "), result.stderr
    assert error in result.stderr, result.stderr
    status, recorded = last_run(w.url)
    assert status == "failed" and error in recorded, recorded
    assert dump_tables(w.url, *STORED) == before


def snapshot_rows(url: str) -> set[tuple]:
    return {tuple(row[1:5]) for row in dump_tables(url, "wp_lop_ov_offerings")["wp_lop_ov_offerings"]}


def assert_feed_b_stored(w: World, result, before: dict) -> None:
    """The run succeeded and wrote feed B whole (a new snapshot: new rows, whatever was stored before)."""
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("130 records in 4 pages; site 2: 20 schools compared"), result.stdout
    assert dump_tables(w.url, *STORED)["wp_lop_ov_offerings"] != before["wp_lop_ov_offerings"]
    assert snapshot_rows(w.url) == {(r["instelling_nummer"], r["instellingslocatie_vestigingsnummer"],
                                     r["administratievegroep_code"], r["administratievegroep_omschrijving"])
                                    for r in w.feed.offerings}
    assert last_run(w.url) == ("succeeded", None)


def figures(case: str, url: str, **values) -> None:
    """The figures of a case for docs/reliability.md (shown with ``pytest -s``)."""
    values = {"run_s": round(run_seconds(url), 2), **values}
    print(f"\n[feeds] {case}: " + ", ".join(f"{k}={v}" for k, v in values.items()))


def gaps(hits: list[Hit]) -> list[float]:
    return [round(b.at - a.at, 2) for a, b in itertools.pairwise(hits)]


def assert_waited(hits: list[Hit], *waits: float) -> None:
    """The requests came ``waits`` seconds apart: the backoff or Retry-After, plus at most a second of work."""
    assert len(gaps(hits)) == len(waits) and all(w <= g <= w + 1.0 for g, w in zip(gaps(hits), waits, strict=True)), \
        (gaps(hits), waits)


# --- Onderwijs Vlaanderen: runs that must fail, the snapshot untouched ---------------------------------------

@pytest.mark.parametrize("where", ["body", "headers"])
def test_ov_drip_is_stopped_by_the_deadline(sidecar, world, where):
    """A page that arrives at 6 bytes a second never trips the 60 s read timeout; the run's deadline (3 s here)
    cuts it, whether the headers or the body drip."""
    page = 2 if where == "body" else 1
    world.feed.plan((OFFERING_PATH, page), f"drip-{where}")
    before = dump_tables(world.url, *STORED)
    result, took = run(sidecar, world, "ov-sync", LOP_OV_DEADLINE_SECONDS="3")
    assert_failed_and_untouched(world, result, before, f"{OFFERING_PATH} page {page}: the deadline of 3 s for "
                                                       "fetching the feed (LOP_OV_DEADLINE_SECONDS) passed")
    assert 3.0 <= run_seconds(world.url) <= 3.0 + 1.5, run_seconds(world.url)
    (drip,) = world.feed.hits_for(OFFERING_PATH, page)
    client_gone(drip)
    assert drip.behaviour == f"drip-{where}" and 0 < drip.sent < drip.length, drip  # far from done when cut
    assert len(world.feed.hits) == page  # no retry after the deadline
    assert took < 3 + 15, took
    figures(f"ov drip-{where}", world.url, dripped=f"{drip.sent}/{drip.length} B", wall_s=round(took, 2))


def test_ov_timeouts_retry_until_the_deadline(sidecar, world):
    """A server that never answers: each attempt times out after LOP_OV_READ_TIMEOUT_SECONDS (1 s), is retried
    after 1 s, and the run gives up when the next wait (2 s) would end after the deadline (4 s)."""
    world.feed.plan(OFFERING_PATH, "hang")
    before = dump_tables(world.url, *STORED)
    result, _ = run(sidecar, world, "ov-sync", LOP_OV_DEADLINE_SECONDS="4", LOP_OV_READ_TIMEOUT_SECONDS="1")
    assert_failed_and_untouched(world, result, before, (
        f"{OFFERING_PATH} page 1: gave up after 2 attempts (last: ReadTimeout): the next one, in 2 s, would start "
        "after the deadline of 4 s for fetching the feed (LOP_OV_DEADLINE_SECONDS)"))
    hits = world.feed.hits
    assert [h.behaviour for h in hits] == ["hang", "hang"]
    assert all(0.9 <= client_gone(h) - h.at <= 2.5 for h in hits), [h.gone_at - h.at for h in hits]  # read timeout
    assert_waited(hits, 1.9)  # the read timeout (1 s; the server sees the request a moment after it starts), the backoff (1 s)
    assert 2.9 <= run_seconds(world.url) <= 4.0, run_seconds(world.url)  # gave up before the deadline
    figures("ov hang", world.url, timeouts_s=[round(h.gone_at - h.at, 2) for h in hits], gaps_s=gaps(hits))


def test_ov_5xx_that_persists_backs_off_then_gives_up_before_the_deadline(sidecar, world):
    world.feed.plan((OFFERING_PATH, 3), "503")
    before = dump_tables(world.url, *STORED)
    result, took = run(sidecar, world, "ov-sync", LOP_OV_DEADLINE_SECONDS="5")
    assert_failed_and_untouched(world, result, before, (
        f"{OFFERING_PATH} page 3: gave up after 3 attempts (last: HTTP 503): the next one, in 4 s, would start "
        "after the deadline of 5 s for fetching the feed (LOP_OV_DEADLINE_SECONDS)"))
    page3 = world.feed.hits_for(OFFERING_PATH, 3)
    assert_waited(page3, 1, 2)  # the backoff
    assert took < 5 + 10, took
    figures("ov 503 always", world.url, gaps_s=gaps(page3))


def test_ov_429_asking_longer_than_the_deadline_fails_at_once(sidecar, world):
    world.feed.plan(OFFERING_PATH, "429:120")
    before = dump_tables(world.url, *STORED)
    result, took = run(sidecar, world, "ov-sync", LOP_OV_DEADLINE_SECONDS="30")
    assert_failed_and_untouched(world, result, before, (
        f"{OFFERING_PATH} page 1: gave up after 1 attempts (last: HTTP 429): the next one, in 120 s, would start "
        "after the deadline of 30 s for fetching the feed (LOP_OV_DEADLINE_SECONDS)"))
    assert len(world.feed.hits) == 1 and took < 15, took  # no pointless wait
    figures("ov 429 Retry-After 120", world.url, requests=len(world.feed.hits))


def test_ov_truncated_body_is_retried_then_given_up(sidecar, world):
    """Half of the announced Content-Length, every time: retried like a connection error (after 1, 2 s)."""
    world.feed.plan((OFFERING_PATH, 2), "cut")
    before = dump_tables(world.url, *STORED)
    result, _ = run(sidecar, world, "ov-sync", LOP_OV_DEADLINE_SECONDS="5")
    assert_failed_and_untouched(world, result, before, (
        f"{OFFERING_PATH} page 2: gave up after 3 attempts (last: ChunkedEncodingError): the next one, in 4 s, "
        "would start after the deadline of 5 s for fetching the feed (LOP_OV_DEADLINE_SECONDS)"))
    assert [h.behaviour for h in world.feed.hits_for(OFFERING_PATH, 2)] == ["cut"] * 3
    figures("ov cut always", world.url, gaps_s=gaps(world.feed.hits_for(OFFERING_PATH, 2)))


def test_ov_truncated_body_without_a_length_is_refused(sidecar, world):
    """A body that ends with the connection and announces no length cannot be told from a whole one: the
    JSON is refused (no retry, as for any malformed answer) and nothing is stored."""
    world.feed.plan((OFFERING_PATH, 4), "cut-close")
    before = dump_tables(world.url, *STORED)
    result, _ = run(sidecar, world, "ov-sync")
    assert_failed_and_untouched(world, result, before, f"{OFFERING_PATH} page 4: the answer is not valid JSON")
    assert len(world.feed.hits_for(OFFERING_PATH, 4)) == 1
    figures("ov cut-close", world.url)


# --- Onderwijs Vlaanderen: misbehaviour the retries overcome, feed B stored whole ---------------------------

def test_ov_5xx_bursts_then_success(sidecar, world):
    world.feed.plan((OFFERING_PATH, 2), "500", "502", "ok")
    world.feed.plan(CATALOGUE_PATH, "503", "ok")
    before = dump_tables(world.url, *STORED)
    result, _ = run(sidecar, world, "ov-sync")
    assert_feed_b_stored(world, result, before)
    page2, catalogue = world.feed.hits_for(OFFERING_PATH, 2), world.feed.hits_for(CATALOGUE_PATH)
    assert [h.behaviour for h in page2] == ["500", "502", "ok"] and [h.behaviour for h in catalogue] == ["503", "ok"]
    assert_waited(page2, 1, 2)
    assert_waited(catalogue, 1)
    figures("ov 5xx burst", world.url, gaps_s=gaps(page2) + gaps(catalogue))


def test_ov_429_waits_for_retry_after(sidecar, world):
    world.feed.plan((OFFERING_PATH, 3), "429:2", "ok")
    before = dump_tables(world.url, *STORED)
    result, _ = run(sidecar, world, "ov-sync")
    assert_feed_b_stored(world, result, before)
    page3 = world.feed.hits_for(OFFERING_PATH, 3)
    assert_waited(page3, 2)  # Retry-After: 2
    figures("ov 429 Retry-After 2", world.url, gap_s=gaps(page3))


def test_ov_a_timeout_then_success(sidecar, world):
    world.feed.plan((OFFERING_PATH, 1), "hang", "ok")
    before = dump_tables(world.url, *STORED)
    result, _ = run(sidecar, world, "ov-sync", LOP_OV_READ_TIMEOUT_SECONDS="1")
    assert_feed_b_stored(world, result, before)
    assert [h.behaviour for h in world.feed.hits_for(OFFERING_PATH, 1)] == ["hang", "ok"]
    figures("ov hang once", world.url, gap_s=gaps(world.feed.hits_for(OFFERING_PATH, 1)))


def test_ov_a_truncated_page_then_success(sidecar, world):
    world.feed.plan((OFFERING_PATH, 3), "cut", "ok")
    before = dump_tables(world.url, *STORED)
    result, _ = run(sidecar, world, "ov-sync")
    assert_feed_b_stored(world, result, before)
    assert [h.behaviour for h in world.feed.hits_for(OFFERING_PATH, 3)] == ["cut", "ok"]
    figures("ov cut once", world.url, gap_s=gaps(world.feed.hits_for(OFFERING_PATH, 3)))


# --- AgODi: the download cut half-way ---------------------------------------------------------------------

def ag_file(url: str, new_from: int) -> bytes:
    """The stored catalogue (without AN 10000, which is not in AgODi's file) with every tenth description
    changed, plus 400 new codes from ``new_from``: about 30 KB."""
    rows = []
    for code, description, niveau, vorm, graad, leerjaar, *_ in dump_tables(url, "wp_lop_admgr")["wp_lop_admgr"]:
        if code != 10000:
            changed = f"{description} (gewijzigd)" if code % 10 == 0 and "gewijzigd" not in description else description
            rows.append([str(code), changed, niveau or "", vorm or "", str(graad or ""), str(leerjaar or ""), "",
                         "2019-09-01", ""])
    rows += [[str(new_from + n), f"Nieuwe opleiding {n}", "SO", "TSO", "2", "3", "", "2026-09-01", ""] for n in range(400)]
    return make_file(HEADER, rows)


@pytest.mark.parametrize("cut", ["cut", "cut-chunked"])
def test_agodi_download_cut_half_way_is_retried_then_given_up(sidecar, world, cut):
    world.feed.ag_file = ag_file(world.url, 71000)
    world.feed.plan(AG_PATH, cut)
    before = dump_tables(world.url, *STORED)
    result, _ = run(sidecar, world, "agodi-sync", LOP_AGODI_DEADLINE_SECONDS="5")
    assert_failed_and_untouched(world, result, before, (
        "the download failed 2 times (last: ChunkedEncodingError): the next attempt, in 4 s, would start after the "
        "deadline of 5 s for fetching the feed (LOP_AGODI_DEADLINE_SECONDS)"))
    hits = world.feed.hits_for(AG_PATH)
    assert [h.behaviour for h in hits] == [cut, cut]
    assert_waited(hits, 2)  # the backoff
    figures(f"agodi {cut} always", world.url, gaps_s=gaps(hits), file_bytes=hits[0].length)


def test_agodi_download_cut_without_a_length_is_refused(sidecar, world):
    """Half the file, no length announced, then the connection closes: it looks whole to HTTP, and the file
    checks refuse it — at once, the catalogue untouched."""
    world.feed.ag_file = ag_file(world.url, 74000)
    world.feed.plan(AG_PATH, "cut-close")
    before = dump_tables(world.url, *STORED)
    result, _ = run(sidecar, world, "agodi-sync")
    assert_failed_and_untouched(world, result, before, "file refused: ")
    # a line cut in the middle fails the row check; a cut at a line boundary, the 85% guard
    assert "fields, the header has 9" in result.stderr or "fewer than 85% of the" in result.stderr, result.stderr
    assert len(world.feed.hits_for(AG_PATH)) == 1
    figures("agodi cut-close", world.url, reason=result.stderr.strip().splitlines()[-1][-70:])


def test_agodi_download_cut_once_then_whole(sidecar, world):
    """Cut half-way, retried, then whole: the catalogue is what an uninterrupted run makes of the file — a
    second, uninterrupted run finds nothing to change and leaves every byte as it was."""
    world.feed.ag_file = ag_file(world.url, 72000)
    in_file = len(world.feed.ag_file.decode().strip().splitlines()) - 1
    world.feed.plan(AG_PATH, "cut", "ok")
    result, _ = run(sidecar, world, "agodi-sync")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{in_file} in file: 400 added, "), result.stdout
    took = run_seconds(world.url)
    after = dump_tables(world.url, *STORED)
    again, _ = run(sidecar, world, "agodi-sync")
    assert again.stdout.strip() == f"{in_file} in file: 0 added, 0 updated, {in_file} unchanged, 0 no longer in file"
    assert dump_tables(world.url, *STORED) == after
    assert [h.behaviour for h in world.feed.hits_for(AG_PATH)] == ["cut", "ok", "ok"]
    figures("agodi cut once", world.url, run_s=round(took, 2), summary=result.stdout.strip(),
            gap_s=gaps(world.feed.hits_for(AG_PATH))[:1])


def test_agodi_drip_is_stopped_by_the_deadline(sidecar, world):
    world.feed.ag_file = ag_file(world.url, 73000)
    world.feed.plan(AG_PATH, "drip-body")
    before = dump_tables(world.url, *STORED)
    result, _ = run(sidecar, world, "agodi-sync", LOP_AGODI_DEADLINE_SECONDS="3")
    assert_failed_and_untouched(world, result, before, (
        "the download was stopped: the deadline of 3 s for fetching the feed (LOP_AGODI_DEADLINE_SECONDS) passed"))
    assert 3.0 <= run_seconds(world.url) <= 3.0 + 1.5, run_seconds(world.url)
    (drip,) = world.feed.hits_for(AG_PATH)
    client_gone(drip)
    assert 0 < drip.sent < drip.length, drip
    figures("agodi drip-body", world.url, dripped=f"{drip.sent}/{drip.length} B")


# --- the settings ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["LOP_OV_DEADLINE_SECONDS", "LOP_OV_READ_TIMEOUT_SECONDS",
                                  "LOP_AGODI_DEADLINE_SECONDS"])
def test_a_malformed_setting_stops_start_up_naming_it(name):
    assert getattr(load_config({name: "90"}), name.lower().removeprefix("lop_")) == 90
    for value in ("soon", "0", "-5", "1.5", "86401"):
        with pytest.raises(ConfigError) as refused:
            load_config({name: value})
        assert refused.value.variable == name


def test_the_command_line_says_which_setting_is_wrong(sidecar):
    result = sidecar.run("jobs", "run", "ov-sync", LOP_OV_DEADLINE_SECONDS="half an hour")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [("lop-sidecar: configuration error: LOP_OV_DEADLINE_SECONDS: "
                                                   "a number of seconds from 1 to 86400, got 'half an hour'")]


def test_defaults_suit_the_real_feeds():
    config = load_config({})
    assert (config.ov_deadline_seconds, config.ov_read_timeout_seconds, config.agodi_deadline_seconds) == (1800, 60, 600)
