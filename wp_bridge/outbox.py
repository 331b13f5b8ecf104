"""The mail outbox (``{base prefix}lop_mail_outbox``): mails are queued in the transaction of the change they
belong to, sent by the ``mail-outbox`` job, and an invitation is cancelled in the transaction that takes the
invited person's school-admin role away."""

from __future__ import annotations

from sqlalchemy import Connection, select, update

from .db import utcnow

PENDING, SENT, FAILED, CANCELLED, EXPIRED = "pending", "sent", "failed", "cancelled", "expired"
STATUSES = (PENDING, SENT, FAILED, CANCELLED, EXPIRED)
INVITATION = "invitation"  # purpose of the set-password mail of a new school admin
CANCELLED_NOTE = "geannuleerd: de persoon is geen schoolbeheerder meer op deze site"


def queue_mail(conn: Connection, outbox, *, site_id: int | None, to: str, subject: str, body_text: str,
               body_html: str | None = None, user_id: int | None = None, purpose: str | None = None) -> int:
    """Put a mail in the outbox inside the caller's transaction: it is sent only if that commits."""
    now = utcnow()
    return int(conn.execute(outbox.insert().values(
        site_id=site_id, to_address=to, subject=subject, body_text=body_text, body_html=body_html,
        status=PENDING, attempts=0, next_attempt_at=now, created_at=now, user_id=user_id,
        purpose=purpose)).inserted_primary_key[0])


def cancel_invitations(conn: Connection, outbox, site_id: int, user_ids) -> int:
    """The unsent invitations of these users on this site become ``cancelled``, their bodies (with the
    set-password key) cleared, in the caller's transaction. Returns how many. The ids are read first and
    updated by primary key, so that MySQL locks those rows only."""
    user_ids = sorted(set(user_ids))
    if not user_ids:
        return 0
    ids = sorted(int(i) for i in conn.execute(select(outbox.c.id).where(
        outbox.c.site_id == site_id, outbox.c.user_id.in_(user_ids), outbox.c.purpose == INVITATION,
        outbox.c.status == PENDING)).scalars())
    if not ids:
        return 0
    return conn.execute(update(outbox).where(outbox.c.id.in_(ids), outbox.c.status == PENDING).values(
        status=CANCELLED, body_text="", body_html=None, last_error=CANCELLED_NOTE)).rowcount


def needing_new_invitation(conn: Connection, outbox, site_id: int, user_ids) -> set[int]:
    """Users whose invitations on this site were all cancelled or expired, none ever sent or still pending: a
    school admin removed before the mail went out and now added again would otherwise never get a link."""
    user_ids = sorted(set(user_ids))
    if not user_ids:
        return set()
    rows = conn.execute(select(outbox.c.user_id, outbox.c.status).where(
        outbox.c.site_id == site_id, outbox.c.user_id.in_(user_ids), outbox.c.purpose == INVITATION)).all()
    lapsed = {int(u) for u, status in rows if status in (CANCELLED, EXPIRED)}
    live = {int(u) for u, status in rows if status in (PENDING, SENT)}
    return lapsed - live


def list_mails(conn: Connection, outbox, *, site_id: int | None = None, status: str | None = None,
               before_id: int | None = None, limit: int = 100) -> tuple[list, int | None]:
    """Mails newest first, without bodies: (rows, the id to continue before, or None on the last page).
    ``site_id`` None: the whole network."""
    o = outbox
    statement = select(o.c.id, o.c.site_id, o.c.user_id, o.c.purpose, o.c.to_address, o.c.subject, o.c.status,
                       o.c.attempts, o.c.next_attempt_at, o.c.last_error, o.c.created_at, o.c.sent_at) \
        .order_by(o.c.id.desc()).limit(limit + 1)
    if site_id is not None:
        statement = statement.where(o.c.site_id == site_id)
    if status:
        statement = statement.where(o.c.status == status)
    if before_id is not None:
        statement = statement.where(o.c.id < before_id)
    rows = conn.execute(statement).all()
    if len(rows) > limit:
        return rows[:limit], int(rows[limit - 1].id)
    return rows, None
