"""Real sidecar processes for the fault and load suite (issue 18): ``lop-sidecar serve``, ``scheduler``,
``jobs run`` and ``log prune`` started as an operator would, on a MariaDB database of their own, and
deterministic dumps of tables to compare a state before and after a fault byte for byte."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import requests
from sqlalchemy import MetaData, Table, create_engine, select, text

from service.signing import sign_headers

SECRET = "fault-suite-secret-0123456789abcdef"
CLI = [sys.executable, "-m", "service.cli"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(condition, timeout: float = 30.0, interval: float = 0.05, what: str = "condition"):
    """Poll ``condition`` until it returns something truthy; fail naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not met within {timeout:g} s")
        time.sleep(interval)


class OutputWatcher:
    """Reads a process's stderr (merged into stdout) line by line on a thread, so that a test can wait for a
    log line instead of sleeping, and can show the output when something fails."""

    def __init__(self, process: subprocess.Popen):
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self._thread.start()

    def _read(self, process):
        for line in process.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()

    def wait_for(self, fragment: str, timeout: float = 30.0, start: int = 0) -> str:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for line in self.lines[start:]:
                    if fragment in line:
                        return line
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no log line with {fragment!r} within {timeout:g} s; output:\n" + self.text())
                self._changed.wait(remaining)

    def text(self) -> str:
        return "\n".join(self.lines[-80:])


class Sidecar:
    """The sidecar's commands against one database, with the environment an operator would set."""

    def __init__(self, database_url: str, **env: str):
        self.database_url = database_url
        self.env = {**os.environ, "LOP_DATABASE_URL": database_url, "LOP_SHARED_SECRET": SECRET, **env}
        self.env.pop("LOP_TEST_KILL_AT", None)

    def _env(self, kill_at: str | None, extra: dict) -> dict:
        env = {**self.env, **extra}
        if kill_at:
            env["LOP_TEST_KILL_AT"] = kill_at
        return env

    def run(self, *args: str, kill_at: str | None = None, timeout: float = 300, **env: str) -> subprocess.CompletedProcess:
        """One command to its end (``returncode == -9`` when the fault point killed it)."""
        return subprocess.run(CLI + list(args), env=self._env(kill_at, env), capture_output=True, text=True,
                              timeout=timeout)

    def start(self, *args: str, kill_at: str | None = None, **env: str) -> tuple[subprocess.Popen, OutputWatcher]:
        process = subprocess.Popen(CLI + list(args), env=self._env(kill_at, env), stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True)
        return process, OutputWatcher(process)

    @contextlib.contextmanager
    def scheduler(self, **env: str) -> Iterator[tuple[subprocess.Popen, OutputWatcher]]:
        process, output = self.start("scheduler", **env)
        try:
            output.wait_for("started with jobs")
            yield process, output
        finally:
            _stop(process)

    @contextlib.contextmanager
    def serve(self, *, workers: int = 2, threads: int = 1, kill_at: str | None = None,
              **env: str) -> Iterator["Served"]:
        port = free_port()
        process, output = self.start("serve", "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
                                     "--threads", str(threads), kill_at=kill_at, **env)
        served = Served(f"http://127.0.0.1:{port}", process, output)
        try:
            wait_until(lambda: process.poll() is not None or served.answers(), timeout=60, what="serve answering")
            if process.poll() is not None:
                raise AssertionError("serve stopped at start-up:\n" + output.text())
            yield served
        finally:
            _stop(process)


class Served:
    def __init__(self, base: str, process: subprocess.Popen, output: OutputWatcher):
        self.base, self.process, self.output = base, process, output
        self.http = requests.Session()

    def answers(self) -> bool:
        try:
            return requests.get(f"{self.base}/api/v1/health/live", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def call(self, method: str, path: str, *, user: int = 0, json_body=None, data: bytes | None = None,
             headers: dict | None = None, timeout: float = 60, **kwargs) -> requests.Response:
        """A signed request, as the plugin sends it."""
        body = json.dumps(json_body).encode() if json_body is not None else (data or b"")
        signed = sign_headers(SECRET, method, path, user=user, body=body)
        if json_body is not None:
            signed["Content-Type"] = "application/json"
        return self.http.request(method, self.base + path, data=body or None, headers={**signed, **(headers or {})},
                                 timeout=timeout, **kwargs)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def dump_tables(database_url: str, *names: str) -> dict[str, list[tuple]]:
    """Every row of the named tables, ordered by their primary key: equal dumps mean equal data."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            metadata = MetaData()
            dumped = {}
            for name in names:
                table = Table(name, metadata, autoload_with=conn)
                order = list(table.primary_key.columns) or list(table.columns)
                dumped[name] = [tuple(row) for row in conn.execute(select(table).order_by(*order))]
            return dumped
    finally:
        engine.dispose()


def scalar(database_url: str, sql: str, **params):
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql), params).scalar()
    finally:
        engine.dispose()
