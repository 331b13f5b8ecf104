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
from wp_bridge.outbox import CANCELLED, EXPIRED, FAILED, PENDING, SENT, queue_mail

from .registry import JobRefused, JobResult, JobSpec, register

__all__ = ["forget_bodies", "queue_mail", "run_mail_outbox"]  # queue_mail lives in wp_bridge.outbox

MAX_ATTEMPTS = 10
BATCH = 200
SMTP_TIMEOUT_SECONDS = 30
# WordPress's set-password keys expire after a day: a mail still unsent by then is useless, and no body
# (the key is in it) is kept longer than needed.
KEY_LIFETIME = dt.timedelta(days=1)
EXPIRED_NOTE = "verlopen: de link in deze e-mail is niet meer geldig"


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
    """Mails past the key's lifetime are ``expired`` (never sent); every mail no longer pending keeps only
    to, subject, status and times."""
    outbox = ctx.runtime.network_tables.mail_outbox
    with ctx.engine.begin() as conn:
        expired = conn.execute(update(outbox).where(outbox.c.status == PENDING, outbox.c.created_at < now - KEY_LIFETIME)
                               .values(status=EXPIRED, last_error=EXPIRED_NOTE, body_text="", body_html=None)).rowcount
        conn.execute(update(outbox).where(outbox.c.status.in_([SENT, FAILED, CANCELLED, EXPIRED]), outbox.c.body_text != "")
                     .values(body_text="", body_html=None))
    return expired


def _still_pending(ctx, outbox, mail_id: int) -> bool:
    """Read again just before sending: an invitation cancelled since the batch was read is not sent."""
    with ctx.engine.connect() as conn:
        return conn.execute(select(outbox.c.id).where(outbox.c.id == mail_id, outbox.c.status == PENDING)).first() is not None


def run_mail_outbox(ctx) -> JobResult:
    outbox = ctx.runtime.network_tables.mail_outbox
    now = utcnow()
    expired = 0 if ctx.dry_run else forget_bodies(ctx, now)
    with ctx.engine.connect() as conn:
        due = conn.execute(select(outbox).where(outbox.c.status == PENDING, outbox.c.next_attempt_at <= now)
                           .order_by(outbox.c.id).limit(BATCH)).all()
    if not due:
        return JobResult("no mail due" + (f", {expired} expired" if expired else ""),
                         {"sent": 0, "retrying": 0, "failed": 0, "expired": expired, "cancelled": 0})
    if ctx.dry_run:
        return JobResult(f"dry run: {len(due)} mails due", {"due": len(due)})
    if not ctx.config.smtp_url:
        raise JobRefused(f"{len(due)} mails are due but LOP_SMTP_URL is not set")
    sender = ctx.config.mail_from or "lop-sidecar@localhost"
    sent = retrying = failed = cancelled = 0
    client = None
    try:
        for done, row in enumerate(due):
            ctx.progress(done, len(due))
            if not _still_pending(ctx, outbox, row.id):
                cancelled += 1
                continue
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
                values = {"status": SENT, "sent_at": utcnow(), "attempts": attempts, "last_error": None,
                          "body_text": "", "body_html": None}  # the set-password key goes with the body
                sent += 1
            elif attempts >= MAX_ATTEMPTS:
                values, failed = {"status": FAILED, "attempts": attempts, "last_error": error}, failed + 1
            else:
                values = {"attempts": attempts, "last_error": error, "next_attempt_at": utcnow() + backoff(attempts)}
                retrying += 1
            with ctx.engine.begin() as conn:
                changed = conn.execute(update(outbox).where(outbox.c.id == row.id, outbox.c.status == PENDING)
                                       .values(**values)).rowcount
                if not changed and error is None:
                    # cancelled while it was on the wire: it did go out, and the outbox says so
                    conn.execute(update(outbox).where(outbox.c.id == row.id).values(**values))
    finally:
        if client is not None:
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                pass
    summary = f"{sent} sent, {retrying} to retry, {failed} failed"
    summary += "".join(f", {n} {what}" for n, what in ((expired, "expired"), (cancelled, "cancelled")) if n)
    return JobResult(summary, {"sent": sent, "retrying": retrying, "failed": failed, "expired": expired,
                               "cancelled": cancelled})


register(JobSpec(
    name="mail-outbox", description="deliver queued e-mails through LOP_SMTP_URL, retrying with backoff",
    run=run_mail_outbox, default_schedule="* * * * *", misfire_grace_seconds=55,
))

