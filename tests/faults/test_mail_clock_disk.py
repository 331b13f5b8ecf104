"""Issue 18, faults 1 (the mail sender), 2, 5 and 6, with real processes on MariaDB: the mail sender killed
before, in the middle of and after an SMTP transaction; a mail server down or refusing for hours; a plugin
whose clock is off; a full disk under ``log prune``."""

from __future__ import annotations

import collections
import datetime as dt
import gzip
import os
import secrets
import socket
import subprocess
import threading
import time
from types import SimpleNamespace

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.engine import make_url

from bench._seed import SITE, seed_site
from jobs.mail import MAX_ATTEMPTS, backoff, build_message
from jobs.runner import lock_name
from service.signing import sign_headers
from tests.conftest import SmtpSink
from wp_bridge.db import make_engine, utcnow
from wp_bridge.outbox import queue_mail
from wp_bridge.tables import network_tables, site_tables

from .processes import SECRET, Sidecar, dump_tables, free_port, scalar, wait_until

MAIL_FROM = "LOP Gent <noreply@lop-gent.example>"
OUTBOX = network_tables("wp_").mail_outbox
COLUMNS = [c.name for c in OUTBOX.columns]


@pytest.fixture
def seeded(mariadb_url) -> dict:
    """A network with LOP site 2 (one school), its LOP expert and a school admin."""
    engine, _network, ids = seed_site(mariadb_url, 1, 1)
    engine.dispose()
    return ids


@pytest.fixture
def smtp():
    sink = SmtpSink()
    yield sink
    sink.stop()


def queue(url: str, addresses: list[str]) -> list[int]:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            return [queue_mail(conn, OUTBOX, site_id=SITE, to=to, subject=f"Welkom als schoolbeheerder ({i})",
                               body_text=f"Stel je wachtwoord in: https://lop.example/wp-login.php?key={secrets.token_hex(10)}\n")
                    for i, to in enumerate(addresses)]
    finally:
        engine.dispose()


def outbox_rows(url: str) -> list[dict]:
    """The outbox dumped (ordered by id, as dump_tables compares it), each row by column name."""
    return [dict(zip(COLUMNS, row)) for row in dump_tables(url, OUTBOX.name)[OUTBOX.name]]


def assert_sent(row: dict, before: dict) -> None:
    """Sent once and recorded: the row as queued, but sent, one attempt, the body (with its key) gone."""
    assert row["sent_at"] is not None
    assert row == {**before, "status": "sent", "attempts": 1, "last_error": None, "body_text": "", "body_html": None,
                   "sent_at": row["sent_at"]}


def wait_for_free_lock(url: str, job: str) -> None:
    """A killed process's GET_LOCK is released once the server has seen its connection close."""
    name = f"{make_url(url).database}/{lock_name(job, None)}"
    wait_until(lambda: scalar(url, "SELECT IS_FREE_LOCK(:n)", n=name) == 1, timeout=20, what=f"lock {name} free")


def expected_message_id(row: dict) -> str:
    return f"<lop-outbox-{row['id']}.{row['created_at']:%Y%m%d%H%M%S%f}@lop-gent.example>"


# --- 1. the mail sender killed -----------------------------------------------------------------------


@pytest.mark.parametrize("kill_at, mails, recorded, resent", [
    ("mail.before_send:1", 3, 0, None),  # connected, before the first SMTP transaction
    ("mail.before_send:3", 4, 2, None),  # between two mails of a batch
    ("mail.after_send:2", 3, 1, 1),  # the server accepted mail 1 (0-based), the outbox does not know yet
], ids=["before-smtp", "between-mails", "after-acceptance"])
def test_mail_killed_mid_batch_is_never_lost_and_only_a_mail_on_the_wire_goes_twice(
        mariadb_url, seeded, smtp, kill_at, mails, recorded, resent):
    queue(mariadb_url, [f"directie{i}@school{i}.example" for i in range(mails)])
    before = outbox_rows(mariadb_url)
    sidecar = Sidecar(mariadb_url, LOP_SMTP_URL=smtp.url, LOP_MAIL_FROM=MAIL_FROM)

    killed = sidecar.run("jobs", "run", "mail-outbox", kill_at=kill_at)
    assert killed.returncode == -9, killed.stderr
    crashed = outbox_rows(mariadb_url)
    for i, (row, queued) in enumerate(zip(crashed, before)):
        if i < recorded:
            assert_sent(row, queued)
        else:
            assert row == queued  # byte for byte as queued: it will be sent by the next run
    on_the_wire = recorded + (1 if resent is not None else 0)
    assert [m["To"] for m in smtp.messages] == [b["to_address"] for b in before[:on_the_wire]]

    wait_for_free_lock(mariadb_url, "mail-outbox")
    rerun = sidecar.run("jobs", "run", "mail-outbox")
    assert rerun.returncode == 0, rerun.stderr
    assert rerun.stdout.strip() == f"{mails - recorded} sent, 0 to retry, 0 failed"
    for row, queued in zip(outbox_rows(mariadb_url), before):
        assert_sent(row, queued)

    # Every mail arrived; only the one accepted before the crash twice, byte for byte the same mail.
    by_id = collections.defaultdict(list)
    for message in smtp.messages:
        by_id[message["Message-ID"]].append(message)
    assert sorted(by_id) == sorted(expected_message_id(b) for b in before)
    for i, queued in enumerate(before):
        copies = by_id[expected_message_id(queued)]
        assert [m["To"] for m in copies] == [queued["to_address"]] * (2 if i == resent else 1)
        assert len({m.as_bytes() for m in copies}) == 1
    assert len(smtp.messages) == mails + (resent is not None)
    assert sidecar.run("jobs", "run", "mail-outbox").stdout.strip() == "no mail due"


def test_message_id_is_the_same_on_every_attempt_and_unique_per_outbox_row():
    created = dt.datetime(2026, 5, 12, 9, 30, 15, 123456)
    row = SimpleNamespace(id=17, created_at=created, to_address="directie@school.example", subject="Welkom",
                          body_text="tekst", body_html=None)
    first, again = build_message(row, MAIL_FROM), build_message(row, MAIL_FROM)
    assert first["Message-ID"] == again["Message-ID"] == "<lop-outbox-17.20260512093015123456@lop-gent.example>"
    assert not first["Message-ID"].defects  # a valid msg-id for the mail systems that drop duplicates
    # The same id in another network or database: another creation time or another sender domain.
    other_db = SimpleNamespace(**{**vars(row), "created_at": created + dt.timedelta(microseconds=1)})
    assert build_message(other_db, MAIL_FROM)["Message-ID"] != first["Message-ID"]
    assert build_message(row, "noreply@lop-brugge.example")["Message-ID"] != first["Message-ID"]
    assert build_message(row, "lop-sidecar@localhost")["Message-ID"].endswith("@localhost>")


# --- 2. the mail server down or refusing for hours ---------------------------------------------------


class DroppingServer:
    """Listens, and closes every connection at once (a mail server that is up but drops its clients);
    counts the connections."""

    def __init__(self, port: int):
        self.connections = 0
        self._sock = socket.create_server(("127.0.0.1", port))
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return  # closed
            self.connections += 1
            conn.close()

    def stop(self):
        self._sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(); close() alone would not
        self._thread.join(timeout=10)
        self._sock.close()


def test_smtp_down_for_an_hour_then_back_and_a_refused_address_fails_after_the_last_attempt(mariadb_url, seeded):
    """An hour is simulated honestly: after each run the test checks the backoff the sender chose and then
    moves the mails' next attempt to now — exactly what the passing of that time would do."""
    port = free_port()
    a, b = queue(mariadb_url, ["directie@de-linde.example", "onbekend@de-linde.example"])
    sidecar = Sidecar(mariadb_url, LOP_SMTP_URL=f"smtp://127.0.0.1:{port}", LOP_MAIL_FROM=MAIL_FROM)
    engine = make_engine(mariadb_url)
    waited = collections.Counter()  # simulated minutes per mail

    def run() -> tuple[str, dict]:
        tried = {r["id"]: r["attempts"] for r in outbox_rows(mariadb_url)}
        start = utcnow()
        result = sidecar.run("jobs", "run", "mail-outbox")
        end = utcnow()
        assert result.returncode == 0, result.stderr
        rows = {r["id"]: r for r in outbox_rows(mariadb_url)}
        for row in rows.values():
            if row["status"] == "pending" and row["attempts"] > tried[row["id"]]:  # next try 1, 2, 4 … min later
                wait = backoff(row["attempts"])
                assert start + wait <= row["next_attempt_at"] <= end + wait
        return result.stdout.strip(), rows

    def let_time_pass() -> None:
        with engine.begin() as conn:
            for mail_id, due in conn.execute(select(OUTBOX.c.id, OUTBOX.c.next_attempt_at)
                                             .where(OUTBOX.c.status == "pending")).all():
                waited[mail_id] += (due - utcnow()).total_seconds() / 60
            conn.execute(update(OUTBOX).where(OUTBOX.c.status == "pending").values(next_attempt_at=utcnow()))

    try:
        # Nothing listens: both mails wait 1, 2, 4 minutes.
        for attempt in (1, 2, 3):
            summary, rows = run()
            assert summary == "0 sent, 2 to retry, 0 failed"
            assert rows[a]["attempts"] == rows[b]["attempts"] == attempt
            assert rows[a]["last_error"].startswith("de mailserver is niet bereikbaar (ConnectionRefusedError: ")
            if attempt == 1:
                assert run()[0] == "no mail due"  # not before its next attempt
            let_time_pass()

        # Up, but dropping every connection: one connection a run, not one per mail.
        dropping = DroppingServer(port)
        try:
            for attempt in (4, 5):
                summary, rows = run()
                assert summary == "0 sent, 2 to retry, 0 failed"
                assert dropping.connections == attempt - 3
                assert rows[b]["last_error"] == "de mailserver verbrak de verbinding (Connection unexpectedly closed)"
                let_time_pass()
        finally:
            dropping.stop()

        sink = SmtpSink(port=port)
        try:
            sink.refuse_data = "451 4.3.0 Try again later"
            summary, rows = run()
            assert summary == "0 sent, 2 to retry, 0 failed" and sink.messages == []
            assert rows[a]["last_error"] == "de mailserver weigert de e-mail tijdelijk (451 4.3.0 Try again later)"
            let_time_pass()

            # Back after an hour; it does not know b's address.
            sink.refuse_data = None
            sink.refuse_rcpt["onbekend@de-linde.example"] = "550 5.1.1 User unknown"
            summary, rows = run()
            assert summary == "1 sent, 1 to retry, 0 failed"
            assert (rows[a]["status"], rows[a]["attempts"], rows[a]["last_error"]) == ("sent", 7, None)
            assert waited[a] >= 60  # 1 + 2 + 4 + 8 + 16 + 32 minutes of outage
            refused = "de mailserver weigert het adres van de ontvanger (550 5.1.1 User unknown)"
            assert rows[b]["last_error"] == refused
            let_time_pass()
            for attempt in range(8, MAX_ATTEMPTS + 1):
                summary, rows = run()
                let_time_pass()
            assert summary == "0 sent, 0 to retry, 1 failed"
            assert (rows[b]["status"], rows[b]["attempts"]) == ("failed", MAX_ATTEMPTS)
            assert rows[b]["last_error"] == f"niet verstuurd na {MAX_ATTEMPTS} pogingen: {refused}"
            summary, rows = run()
            assert summary == "no mail due"  # failed is final
            assert rows[b]["body_text"] == ""  # and the next run clears its body (the key) as of every mail done
            assert [m["To"] for m in sink.messages] == ["directie@de-linde.example"]
        finally:
            sink.stop()

        # The LOP expert reads why, in Dutch, in the site's outbox.
        with sidecar.serve(workers=1) as served:
            response = served.call("GET", f"/api/v1/sites/{SITE}/mail/outbox", user=seeded["expert"])
        assert response.status_code == 200, response.text
        shown = {m["id"]: m for m in response.json()["mails"]}
        assert (shown[b]["status"], shown[b]["attempts"]) == ("failed", MAX_ATTEMPTS)
        assert shown[b]["last_error"] == f"niet verstuurd na {MAX_ATTEMPTS} pogingen: {refused}"
        assert (shown[a]["status"], shown[a]["last_error"]) == ("sent", None)
        assert "Traceback" not in response.text
        print(f"simulated outage: mail a sent after {waited[a]:.0f} min, b failed after {waited[b]:.0f} min")
    finally:
        engine.dispose()


# --- 5. clocks ------------------------------------------------------------------------------------


def test_a_plugin_clock_four_minutes_off_is_accepted_six_minutes_is_refused(mariadb_url, seeded):
    path = f"/api/v1/sites/{SITE}/schools"
    with Sidecar(mariadb_url).serve(workers=1) as served:
        def call(offset: int):
            headers = sign_headers(SECRET, "GET", path, user=seeded["expert"], timestamp=int(time.time()) + offset)
            return served.http.get(served.base + path, headers=headers, timeout=30)

        for offset in (-240, 240):
            response = call(offset)
            assert response.status_code == 200, (offset, response.text)
            assert [s["name"] for s in response.json()["schools"]] == ["School 000"]
        for offset in (-360, 360):
            response = call(offset)
            assert response.status_code == 401, (offset, response.text)
            body = response.json()
            assert body["code"] == "auth_stale"
            assert "Controleer de tijdsynchronisatie (NTP) van beide machines" in body["detail"]


# --- 6. a full disk under log prune ------------------------------------------------------------------


def insert_log_rows(url: str, n: int) -> None:
    """Log rows whose values do not compress (random hex): their archive needs far more than 64 KiB."""
    engine = make_engine(url)
    t, start = site_tables(f"wp_{SITE}_"), utcnow() - dt.timedelta(days=30)
    try:
        with engine.begin() as conn:
            conn.execute(t.audit_log.insert(), [
                {"occurred_at": start + dt.timedelta(seconds=i), "site_id": SITE, "user_id": 1, "user_login": "operator",
                 "user_role": "lop_expert", "source": "api", "entity": "offering", "entity_id": i, "action": "update",
                 "field": "extra_info", "old_value": secrets.token_hex(16), "new_value": secrets.token_hex(16)}
                for i in range(n)])
    finally:
        engine.dispose()


@pytest.fixture
def small_disk(tmp_path):
    """A 64 KiB tmpfs: the test fails (never skips) when it cannot be mounted."""
    mount_point = tmp_path / "archive"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount_point)],
                             check=False, capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.fail(f"cannot mount a tmpfs (the test runs as root): {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=True)


def test_disk_full_while_log_prune_writes_its_archive_deletes_nothing(mariadb_url, seeded, small_disk):
    insert_log_rows(mariadb_url, 5000)
    log = f"wp_{SITE}_lop_audit_log"
    site = (log, f"wp_{SITE}_lop_schools", f"wp_{SITE}_lop_offerings")
    before = dump_tables(mariadb_url, *site)
    archive = small_disk / "logbestand-site2.csv.gz"
    sidecar = Sidecar(mariadb_url, LOP_ARCHIVE_DIR=str(small_disk))
    tomorrow = (dt.date.today() + dt.timedelta(days=1)).isoformat()

    result = sidecar.run("log", "prune", "--site", str(SITE), "--before", tomorrow, "--archive", str(archive))
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (f"lop-sidecar: could not write the archive {archive}: No space left on device; "
                             "nothing was deleted from the log\n")
    assert dump_tables(mariadb_url, *site) == before
    assert os.listdir(small_disk) == []  # no partial archive left to be mistaken for the log

    # The purge of a site WordPress deleted writes the same archive first: it drops nothing either.
    set_deleted = "UPDATE wp_blogs SET deleted = :d WHERE blog_id = :s"
    engine = make_engine(mariadb_url)
    try:
        with engine.begin() as conn:
            conn.execute(text(set_deleted), {"d": 1, "s": SITE})
        purge = sidecar.run("sites", "purge", str(SITE))
        with engine.begin() as conn:
            conn.execute(text(set_deleted), {"d": 0, "s": SITE})
    finally:
        engine.dispose()
    assert purge.returncode == 1
    # (its log line from the job runner comes first)
    assert purge.stderr.splitlines()[-1] == "lop-sidecar: site-purge failed: OSError: [Errno 28] No space left on device"
    assert dump_tables(mariadb_url, *site) == before
    assert os.listdir(small_disk) == []

    # Room again: the same command, to the same path, simply works.
    subprocess.run(["mount", "-o", "remount,size=16m", str(small_disk)], check=True)
    result = sidecar.run("log", "prune", "--site", str(SITE), "--before", tomorrow, "--archive", str(archive))
    assert result.returncode == 0, result.stderr
    rows = len(before[log])
    assert result.stdout.strip() == f"archived {rows} log rows of site {SITE} before {tomorrow} to {archive}; deleted {rows}"
    with gzip.open(archive, "rt", encoding="utf-8-sig") as lines:
        assert sum(1 for _ in lines) == rows + 1  # a heading, then every row
    assert os.path.getsize(archive) > 64 * 1024  # it could never have fitted
    print(f"disk full: {rows} log rows kept; their archive is {os.path.getsize(archive) // 1024} KiB")
    assert scalar(mariadb_url, f"SELECT COUNT(*) FROM {log}") == 0


def test_the_archive_is_complete_on_disk_before_its_rows_are_deleted(mariadb_url, seeded, tmp_path, monkeypatch):
    """fsync comes after the gzip trailer: a power cut right after the delete leaves a whole archive."""
    from service import log_archive
    from service.config import load_config
    from service.runtime import Runtime

    insert_log_rows(mariadb_url, 50)
    synced = []
    real_fsync = os.fsync

    def fsync(fd):
        real_fsync(fd)
        synced.append(os.fstat(fd).st_size)

    monkeypatch.setattr(log_archive.os, "fsync", fsync)
    rt = Runtime.from_config(load_config({"LOP_DATABASE_URL": mariadb_url}))
    try:
        path = tmp_path / "archief.csv.gz"
        archived, _ = log_archive.write_log_archive(rt, site_tables(f"wp_{SITE}_"), str(path))
    finally:
        rt.engine.dispose()
    assert archived >= 50
    assert synced[0] == path.stat().st_size  # the file, whole, then its directory
    assert len(synced) == 2
    with gzip.open(path, "rb") as whole:
        whole.read()  # a truncated gzip stream raises EOFError here

