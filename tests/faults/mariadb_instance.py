"""A second MariaDB server of the test's own (Debian's ``mariadbd``), so that the fault suite can stop,
kill, freeze and restart a database server without touching the shared one on port 3306.

Its data directory, socket, pid and error log live under one temporary directory; root connects over TCP
without a password (set up by ``mariadb-install-db --auth-root-authentication-method=normal``). The port
stays the same across restarts, so that the sidecar's ``LOP_DATABASE_URL`` keeps pointing at it. Starting
waits for the server's greeting on the port, stopping for the process to end: never a fixed sleep.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text

from .processes import free_port, wait_until

MARIADBD = "/usr/sbin/mariadbd"
INSTALL_DB = "/usr/bin/mariadb-install-db"


def greets(port: int, timeout: float = 1.0) -> bool:
    """True when a MySQL server on ``port`` sends its handshake packet (protocol version 10)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            header = sock.recv(5)
    except OSError:
        return False
    return len(header) == 5 and header[4] == 10


class MariaDBInstance:
    def __init__(self, base: Path):
        self.base = Path(base)
        self.datadir = self.base / "data"
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.paused = False

    # --- life cycle ---

    def install(self) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [INSTALL_DB, "--no-defaults", f"--datadir={self.datadir}", "--user=root", "--skip-test-db",
             "--auth-root-authentication-method=normal"],
            capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"mariadb-install-db failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")

    def start(self, timeout: float = 60) -> None:
        assert self.process is None or self.process.poll() is not None, "already running"
        self.process = subprocess.Popen(
            [MARIADBD, "--no-defaults", f"--datadir={self.datadir}", f"--socket={self.base / 'mysqld.sock'}",
             f"--pid-file={self.base / 'mysqld.pid'}", f"--log-error={self.base / 'error.log'}",
             f"--port={self.port}", "--bind-address=127.0.0.1", "--user=root", "--skip-log-bin",
             # small: it holds a few test databases
             "--innodb-buffer-pool-size=32M", "--innodb-log-file-size=16M", "--max-connections=200"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: self.process.poll() is not None or greets(self.port), timeout=timeout,
                   what=f"MariaDB on port {self.port} greeting")
        if self.process.poll() is not None:
            raise RuntimeError(f"mariadbd stopped at start-up ({self.process.returncode}):\n{self.error_log()}")

    def stop(self, timeout: float = 60) -> None:
        """A clean shutdown (SIGTERM, as ``systemctl stop``): open connections are closed by the server."""
        self._end(signal.SIGTERM, timeout)

    def kill(self, timeout: float = 60) -> None:
        """A crash (SIGKILL): the server vanishes without closing anything; InnoDB recovers at the next start."""
        self._end(signal.SIGKILL, timeout)

    def pause(self) -> None:
        """SIGSTOP: the kernel still accepts connections on the port, but nothing answers any more."""
        self.process.send_signal(signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        self.process.send_signal(signal.SIGCONT)
        self.paused = False

    def _end(self, signum: int, timeout: float) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signum)
        if self.paused:
            self.resume()
        self.process.wait(timeout=timeout)
        # The port is closed once the process is gone; nothing may greet there any more.
        assert not greets(self.port, timeout=0.5), f"something still answers on port {self.port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def destroy(self) -> None:
        if self.running:
            self.kill()
        shutil.rmtree(self.base, ignore_errors=True)

    def error_log(self, lines: int = 40) -> str:
        path = self.base / "error.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else "(no log)"

    # --- databases ---

    def url(self, database: str = "") -> str:
        return f"mysql+mysqlconnector://root@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh empty database on this server; its URL."""
        name = f"lop_outage_{uuid.uuid4().hex[:12]}"
        engine = create_engine(self.url(), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci"))
        finally:
            engine.dispose()
        return self.url(name)

