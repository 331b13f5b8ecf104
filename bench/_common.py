"""Helpers shared by the benchmarks: a fresh MariaDB database, a served sidecar, percentiles."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

SECRET = "bench-secret-0123456789abcdef"  # LOP_SHARED_SECRET of the servers and apps the benchmarks start
MYSQL_URL = os.environ.get("LOP_BENCH_MYSQL_URL", "mysql+mysqlconnector://root@127.0.0.1:3306/")


@contextlib.contextmanager
def fresh_mysql_database() -> Iterator[str]:
    server = create_engine(MYSQL_URL, isolation_level="AUTOCOMMIT")
    name = f"lop_bench_{uuid.uuid4().hex[:10]}"
    with server.connect() as conn:
        conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_520_ci"))
    try:
        yield make_url(MYSQL_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with server.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        server.dispose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def served(env: dict, workers: int, threads: int = 1, return_process: bool = False) -> Iterator:
    """``lop-sidecar serve`` in its own process; yields its base URL (and the process, the gunicorn master)."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "serve", "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
         "--threads", str(threads)],
        env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise SystemExit("the server did not start")
            time.sleep(0.2)
        yield (base, process) if return_process else base
    finally:
        process.terminate()
        process.wait(timeout=30)


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]
