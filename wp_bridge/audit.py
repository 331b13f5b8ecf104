"""The one audit-log writer. Every change to LOP data calls it inside the same transaction as the
change, so a change and its log rows are committed or rolled back together. Log rows are never
updated or deleted by the service."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from .db import utcnow
from .tables import SiteTables

SOURCES = ("api", "cli", "import")  # plus job names, e.g. "rollover", "ov-sync"


@dataclass(frozen=True)
class Actor:
    """Who makes a change, as it will be written in the log."""

    user_id: int  # 0 = the site or the system itself
    user_login: str
    user_role: str  # the sidecar role at that moment ("operator", "lop_expert", …) or "system"
    source: str  # "api", "cli", "import" or a job name
    switched_from_user_id: int | None = None
    request_id: str | None = None


@dataclass(frozen=True)
class Change:
    entity: str  # "school", "offering", "school_admin", "settings", …
    action: str  # "create", "update", "delete", …
    entity_id: int | None = None
    school_id: int | None = None
    field: str | None = None
    old: Any = None
    new: Any = None


def as_text(value: Any) -> str | None:
    """Values are stored as text: strings as they are, everything else as compact JSON."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def write_audit(conn: Connection, tables: SiteTables, site_id: int, actor: Actor, changes: Sequence[Change]) -> None:
    """Append one row per change, in one multi-row insert, all with the same timestamp."""
    if not changes:
        return
    if not conn.in_transaction():
        raise RuntimeError("the audit log is written inside the transaction of the change it records")
    now = utcnow()
    rows = [
        {
            "occurred_at": now,
            "site_id": site_id,
            "user_id": actor.user_id,
            "user_login": actor.user_login,
            "user_role": actor.user_role,
            "switched_from_user_id": actor.switched_from_user_id,
            "source": actor.source,
            "school_id": change.school_id,
            "entity": change.entity,
            "entity_id": change.entity_id,
            "action": change.action,
            "field": change.field,
            "old_value": as_text(change.old),
            "new_value": as_text(change.new),
            "request_id": actor.request_id,
        }
        for change in changes
    ]
    # One row (the common edit) as a plain execute: the driver's executemany rewrites the statement with
    # regular expressions, which cost more than the insert itself.
    conn.execute(tables.audit_log.insert(), rows[0] if len(rows) == 1 else rows)
