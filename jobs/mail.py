"""The mail-outbox sender: delivers the mails that changes queued in the outbox table (in their own
transaction, so a mail is never sent for a change that rolled back), retrying with backoff."""

from __future__ import annotations

import datetime as dt
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import parseaddr
from urllib.parse import unquote, urlparse

from sqlalchemy import select, update

from wp_bridge.db import utcnow
from wp_bridge.faults import fault_point
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
# The server answered "no" to this mail: the connection itself is still good for the next one.
REFUSED = (smtplib.SMTPResponseException, smtplib.SMTPRecipientsRefused)


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


def message_id(row, sender: str) -> str:
    """The same Message-ID every time this outbox row is sent: a mail sent again after a crash between the
    server's acceptance and the outbox update is recognisably the same mail (mail systems drop the
    duplicate). The creation time (to the microsecond) and the sender's domain keep it unique across
    networks and databases whose outbox ids overlap. Never the host name: schedulers may run on two hosts."""
    domain = parseaddr(sender)[1].rpartition("@")[2].strip().lower()
    try:
        domain = domain.encode("idna").decode("ascii") if domain else "localhost"
    except UnicodeError:
        domain = "localhost"
    return f"<lop-outbox-{int(row.id)}.{row.created_at:%Y%m%d%H%M%S%f}@{domain}>"


def build_message(row, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = row.to_address
    message["Subject"] = row.subject
    message["Message-ID"] = message_id(row, sender)
    message.set_content(row.body_text)
    if row.body_html:
        message.add_alternative(row.body_html, subtype="html")
    return message


def _reply(code: int, text) -> str:
    text = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return f"{code} {' '.join(text.split())}"[:200]


def delivery_error(exc: BaseException, *, building: bool = False) -> str:
    """Why a mail did not go out, as the outbox shows it to the LOP expert: the reason in Dutch, then for the
    operator the mail server's own answer or the system error in brackets — never a traceback."""
    if building:  # the message could not be made (an address or subject no mail server would take)
        reason = "de e-mail kon niet opgemaakt worden (ongeldig adres of onderwerp)"
        detail = f"{type(exc).__name__}: {exc}"
    elif isinstance(exc, smtplib.SMTPRecipientsRefused):
        reason = "de mailserver weigert het adres van de ontvanger"
        detail = "; ".join(_reply(code, text) for code, text in exc.recipients.values())
    elif isinstance(exc, smtplib.SMTPAuthenticationError):
        reason = "de mailserver weigert de aanmelding van de LOP-service (gebruiker en wachtwoord in LOP_SMTP_URL)"
        detail = _reply(exc.smtp_code, exc.smtp_error)
    elif isinstance(exc, smtplib.SMTPResponseException):
        temporary = 400 <= exc.smtp_code < 500
        reason = "de mailserver weigert de e-mail tijdelijk" if temporary else "de mailserver weigert de e-mail"
        detail = _reply(exc.smtp_code, exc.smtp_error)
    elif isinstance(exc, smtplib.SMTPServerDisconnected):
        reason = "de mailserver verbrak de verbinding"
        detail = str(exc)
    elif isinstance(exc, TimeoutError):
        reason = f"de mailserver antwoordde niet binnen {SMTP_TIMEOUT_SECONDS} seconden"
        detail = f"{type(exc).__name__}: {exc}"
    elif isinstance(exc, ssl.SSLError):
        reason = "de beveiligde verbinding met de mailserver mislukte"
        detail = f"{type(exc).__name__}: {exc}"
    elif isinstance(exc, OSError):
        reason = "de mailserver is niet bereikbaar"
        detail = f"{type(exc).__name__}: {exc}"
    else:
        reason = "onverwachte fout bij het versturen"
        detail = f"{type(exc).__name__}: {exc}"
    detail = " ".join(detail.split())[:200]
    return f"{reason} ({detail})" if detail else reason


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
    unreachable = None  # why the server could not be reached in this run: the rest of the batch waits too
    try:
        for done, row in enumerate(due):
            ctx.progress(done, len(due))
            if not _still_pending(ctx, outbox, row.id):
                cancelled += 1
                continue
            error = None
            try:
                message = build_message(row, sender)  # a malformed address fails here, for this mail only
            except Exception as exc:  # noqa: BLE001 — one mail's trouble never stops the others
                error = delivery_error(exc, building=True)
            if error is None and client is None and unreachable is None:
                try:
                    client = open_smtp(ctx.config.smtp_url)
                except Exception as exc:  # noqa: BLE001
                    # one connection attempt a run, not one (of up to 30 s) for every due mail
                    unreachable = delivery_error(exc)
            if error is None and unreachable is not None:
                error = unreachable
            elif error is None:
                try:
                    fault_point("mail.before_send")
                    client.send_message(message)
                    fault_point("mail.after_send")  # accepted by the server, not yet marked sent
                except Exception as exc:  # noqa: BLE001 — one mail's trouble never stops the others
                    error = delivery_error(exc)
                    if isinstance(exc, OSError) and not isinstance(exc, REFUSED):
                        client.close()  # the connection is gone (a refusal leaves it usable): reconnect
                        client = None
            attempts = row.attempts + 1
            if error is None:
                values = {"status": SENT, "sent_at": utcnow(), "attempts": attempts, "last_error": None,
                          "body_text": "", "body_html": None}  # the set-password key goes with the body
                sent += 1
            elif attempts >= MAX_ATTEMPTS:
                values = {"status": FAILED, "attempts": attempts,
                          "last_error": f"niet verstuurd na {attempts} pogingen: {error}"}
                failed += 1
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

