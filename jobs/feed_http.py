"""HTTP for the feeds (Onderwijs Vlaanderen's API, AgODi's download) under a total deadline per run.

A read timeout only bounds each wait for the next bytes: a server that drips a few bytes a second never
trips it, and one page could take hours. A ``Deadline`` bounds the whole fetch of a run — every request,
retry and wait. When it passes, its timer shuts down the socket of the request in flight (while the headers
or the body are read alike), so the blocked read returns at once and the fetch fails.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Self

import requests
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

CONNECT_TIMEOUT = 10.0
# What a retry may cure: the connection failed, timed out, or the body ended before its announced length
# (a truncated page); never an answer that arrived whole.
TRANSIENT = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError,
             requests.exceptions.ContentDecodingError)


class DeadlinePassed(Exception):
    pass


class Deadline:
    """The time a run may spend fetching its feed, counted from its creation; ``setting`` names the
    variable that sets it (for the messages)."""

    def __init__(self, seconds: float, setting: str):
        self.seconds, self.setting = seconds, setting
        self._ends = time.monotonic() + seconds
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._passed = False
        self._timer = threading.Timer(seconds, self._cut)
        self._timer.daemon = True
        self._timer.start()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self._timer.cancel()

    @property
    def name(self) -> str:
        return f"the deadline of {self.seconds:g} s for fetching the feed ({self.setting})"

    @property
    def message(self) -> str:
        return f"{self.name} passed"

    def remaining(self) -> float:
        return max(0.0, self._ends - time.monotonic())

    def passed(self) -> bool:
        return self.remaining() <= 0

    def check(self) -> None:
        if self.passed():
            raise DeadlinePassed(self.message)

    def allows_wait(self, seconds: float) -> bool:
        """Whether an attempt after waiting ``seconds`` would still start before the deadline."""
        return seconds < self.remaining()

    def timeout(self, read: float) -> tuple[float, float]:
        """requests' (connect, read) timeout, neither beyond the deadline."""
        self.check()
        remaining = self.remaining()
        return min(CONNECT_TIMEOUT, remaining), min(read, remaining)

    def session(self) -> requests.Session:
        """A session whose every request the deadline can cut."""
        session = requests.Session()
        adapter = _WatchedAdapter(self._watch)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session

    def _watch(self, sock) -> None:
        with self._lock:
            self._sock = sock
            if self._passed:
                _shut(sock)

    def _cut(self) -> None:
        with self._lock:
            self._passed = True
            if self._sock is not None:
                _shut(self._sock)


def _shut(sock) -> None:
    # shutdown (not close) wakes a read blocked in another thread; the socket may be gone already
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def _watched(pool_cls: type[HTTPConnectionPool], watch) -> type[HTTPConnectionPool]:
    class Connection(pool_cls.ConnectionCls):
        def getresponse(self, *args, **kwargs):
            watch(self.sock)  # the request is sent: from here on (headers, then body) the deadline can cut it
            return super().getresponse(*args, **kwargs)

    return type(pool_cls.__name__, (pool_cls,), {"ConnectionCls": Connection})


class _WatchedAdapter(HTTPAdapter):
    def __init__(self, watch):
        self._pools = {"http": _watched(HTTPConnectionPool, watch), "https": _watched(HTTPSConnectionPool, watch)}
        super().__init__()

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = self._pools

    def proxy_manager_for(self, proxy, **kwargs):
        manager = super().proxy_manager_for(proxy, **kwargs)
        if not proxy.lower().startswith("socks"):  # SOCKS has connection classes of its own: read timeout only
            manager.pool_classes_by_scheme = self._pools
        return manager
