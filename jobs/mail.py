"""The mail-outbox sender: delivers the mails that changes queued in the outbox table (in their own
transaction, so a mail is never sent for a change that rolled back), retrying with backoff."""

from __future__ import annotations

import datetime as dt
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import make_msgid
from urllib.parse import unquote, urlparse

from sqlalchemy import select, update

from wp_bridge.db import utcnow

from .registry import JobRefused, JobResult, JobSpec, register

MAX_ATTEMPTS = 10
BATCH = 200
SMTP_TIMEOUT_SECONDS = 30
# WordPress's set-password keys expire after a day: a mail still unsent by then is useless, and no body
# (the key is in it) is kept longer than needed.
KEY_LIFETIME = dt.timedelta(days=1)
EXPIRED = "verlopen: de link in deze e-mail is niet meer geldig"


def backoff(attempts: int) -> dt.timedelta:
    """1, 2, 4 … minutes after each failed attempt, at most 6 hours."""
    return dt.timedelta(minutes=min(2 ** (attempts - 1), 360))


def open_smtp(url: str) -> smtplib.SMTP:
    parsed = urlparse(url)
    host, port = parsed.hostname or "localhost", parsed.port
    if parsed.scheme == "smtps":
        client = smtplib.SMTP_SSL(host, port or 465, timeout=SMTP_TIMEOUT_SECONDS, context=ssl.create_default_context())
    else:
        client = smtplib.SMTP(host, port or 25, timeout=SMTP_TIMEOUT_SECONDS)
        if parsed.scheme == "smtp+starttls":
            client.starttls(context=ssl.create_default_context())
    if parsed.username:
        client.login(unquote(parsed.username), unquote(parsed.password or ""))
    return client


def build_message(row, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = row.to_address
    message["Subject"] = row.subject
    # A stable id: a retry after an unclear failure is recognisably the same mail.
    message["Message-ID"] = make_msgid(idstring=f"lop-outbox-{row.id}")
    message.set_content(row.body_text)
    if row.body_html:
        message.add_alternative(row.body_html, subtype="html")
    return message


def forget_bodies(ctx, now: dt.datetime) -> int:
    """Mails past the key's lifetime fail; sent and failed mails keep only to, subject, status and times."""
    outbox = ctx.runtime.network_tables.mail_outbox
    with ctx.engine.begin() as conn:
        expired = conn.execute(update(outbox).where(outbox.c.status == "pending", outbox.c.created_at < now - KEY_LIFETIME)
                               .values(status="failed", last_error=EXPIRED, body_text="", body_html=None)).rowcount
        conn.execute(update(outbox).where(outbox.c.status.in_(["sent", "failed"]), outbox.c.body_text != "")
                     .values(body_text="", body_html=None))
    return expired


def run_mail_outbox(ctx) -> JobResult:
    outbox = ctx.runtime.network_tables.mail_outbox
    now = utcnow()
    expired = 0 if ctx.dry_run else forget_bodies(ctx, now)
    with ctx.engine.connect() as conn:
        due = conn.execute(select(outbox).where(outbox.c.status == "pending", outbox.c.next_attempt_at <= now)
                           .order_by(outbox.c.id).limit(BATCH)).all()
    if not due:
        return JobResult("no mail due", {"sent": 0, "retrying": 0, "failed": expired})
    if ctx.dry_run:
        return JobResult(f"dry run: {len(due)} mails due", {"due": len(due)})
    if not ctx.config.smtp_url:
        raise JobRefused(f"{len(due)} mails are due but LOP_SMTP_URL is not set")
    sender = ctx.config.mail_from or "lop-sidecar@localhost"
    sent = retrying = failed = 0
    client = None
    try:
        for done, row in enumerate(due):
            ctx.progress(done, len(due))
            error = None
            try:
                message = build_message(row, sender)  # a malformed address fails here, for this mail only
                client = client or open_smtp(ctx.config.smtp_url)
                client.send_message(message)
            except Exception as exc:  # noqa: BLE001 — one mail's trouble never stops the others
                error = f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
                if client is not None and isinstance(exc, (smtplib.SMTPServerDisconnected, OSError)):
                    client = None  # reconnect for the next mail
            attempts = row.attempts + 1
            if error is None:
                values = {"status": "sent", "sent_at": utcnow(), "attempts": attempts, "last_error": None,
                          "body_text": "", "body_html": None}  # the set-password key goes with the body
                sent += 1
            elif attempts >= MAX_ATTEMPTS:
                values, failed = {"status": "failed", "attempts": attempts, "last_error": error}, failed + 1
            else:
                values = {"attempts": attempts, "last_error": error, "next_attempt_at": utcnow() + backoff(attempts)}
                retrying += 1
            with ctx.engine.begin() as conn:
                conn.execute(update(outbox).where(outbox.c.id == row.id, outbox.c.status == "pending").values(**values))
    finally:
        if client is not None:
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                pass
    failed += expired
    return JobResult(f"{sent} sent, {retrying} to retry, {failed} failed", {"sent": sent, "retrying": retrying, "failed": failed})


register(JobSpec(
    name="mail-outbox", description="deliver queued e-mails through LOP_SMTP_URL, retrying with backoff",
    run=run_mail_outbox, default_schedule="* * * * *", misfire_grace_seconds=55,
))


def queue_mail(conn, outbox, *, site_id: int | None, to: str, subject: str, body_text: str,
               body_html: str | None = None) -> int:
    """Put a mail in the outbox inside the caller's transaction: it is sent only if that commits."""
    now = utcnow()
    return int(conn.execute(outbox.insert().values(
        site_id=site_id, to_address=to, subject=subject, body_text=body_text, body_html=body_html,
        status="pending", attempts=0, next_attempt_at=now, created_at=now)).inserted_primary_key[0])
