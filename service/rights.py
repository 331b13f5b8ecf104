"""The rights of the caller (or of a previewed user) on a site's schools and offerings."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from rules.rights import FIELD_PERMISSIONS, PERMISSIONS, Evaluation, RightsSettings, evaluate
from rules.roles import MANAGERS, Role
from rules.wording import FIELD_NAMES, field_list, moment, refusal
from wp_bridge.schools import linked_school_ids
from wp_bridge.settings import site_rights_settings
from wp_bridge.sites import WpSite
from wp_bridge.tables import SiteTables

from .errors import ApiError

BRUSSELS = ZoneInfo("Europe/Brussels")


def iso_utc(instant: dt.datetime | None) -> str | None:
    return instant.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z") if instant else None


@dataclass(frozen=True)
class Rights:
    role: Role | None
    user_id: int
    settings: RightsSettings
    linked: frozenset[int]
    now: dt.datetime  # aware
    tz: ZoneInfo = BRUSSELS  # for the moments in refusals

    @classmethod
    def load(cls, conn: Connection, site: WpSite, tables: SiteTables, role: Role | None, user_id: int,
             now: dt.datetime | None = None, tz: ZoneInfo = BRUSSELS, linked: Iterable[int] | None = None) -> Rights:
        """The settings come with ``site`` (read in the request's transaction); only a school admin's
        linked schools take a query, unless the caller read them already (``linked``: for a request about
        one school, whether it is theirs). ``tz`` words the moments in refusals (the site's LOP_TIMEZONE)."""
        settings = site_rights_settings(site)
        if role is not Role.SCHOOL_ADMIN:
            linked = frozenset()
        elif linked is None:
            linked = frozenset(linked_school_ids(conn, tables, user_id))
        return cls(role, user_id, settings, frozenset(linked), now or dt.datetime.now(dt.timezone.utc), tz)

    def can_see(self, school_id: int) -> bool:
        return self.role in MANAGERS or school_id in self.linked

    def require_school(self, school_id: int) -> None:
        if not self.can_see(school_id):
            raise ApiError(403, "forbidden", "Je bent geen beheerder van deze school.")

    def evaluate(self, school_id: int, year: str, rights_type: str) -> Evaluation:
        return evaluate(self.role, school_id in self.linked, year, rights_type, self.settings, self.now)

    def editable_fields(self, school_id: int, year: str, rights_type: str) -> list[str]:
        permissions = self.evaluate(school_id, year, rights_type).permissions
        return [name for name, permission in FIELD_PERMISSIONS.items() if permission in permissions]

    def outlook(self, school_id: int, year: str, rights_type: str) -> dict:
        """What the caller may do on an offering now, and when that changes by itself: ``editable`` (fields
        now), ``removable``, ``changes_at`` (ISO UTC or None) and ``editable_after`` (the fields editable from
        that moment; None without one)."""
        now = self.evaluate(school_id, year, rights_type)
        after = None
        if now.changes_at is not None:
            later = evaluate(self.role, school_id in self.linked, year, rights_type, self.settings, now.changes_at)
            after = [name for name, permission in FIELD_PERMISSIONS.items() if permission in later.permissions]
        return {
            "editable": [name for name, permission in FIELD_PERMISSIONS.items() if permission in now.permissions],
            "removable": "remove_offering" in now.permissions,
            "changes_at": iso_utc(now.changes_at),
            "editable_after": after,
        }

    def type_outlook(self, school_id: int, year: str, rights_type: str) -> dict:
        """Per rights type: the period, the permissions now (in the settings' order) and ``changes_at``."""
        evaluation = self.evaluate(school_id, year, rights_type)
        return {"period": evaluation.period,
                "permissions": [p for p in PERMISSIONS if p in evaluation.permissions],
                "changes_at": iso_utc(evaluation.changes_at)}

    def require_fields(self, school_id: int, year: str, rights_type: str, fields) -> None:
        allowed = set(self.editable_fields(school_id, year, rights_type))
        forbidden = [name for name in FIELD_NAMES if name in set(fields) - allowed]
        if forbidden:
            errors = [{"field": name, "message": refusal(FIELD_PERMISSIONS[name])
                       + self._from_when(school_id, year, rights_type, FIELD_PERMISSIONS[name]) + "."} for name in forbidden]
            detail = errors[0]["message"] if len(errors) == 1 else f"Je mag {field_list(forbidden)} nu niet wijzigen."
            raise ApiError(403, "rights_forbidden_fields", detail, errors=errors)

    def require_permission(self, school_id: int, year: str, rights_type: str, permission: str) -> None:
        if permission not in self.evaluate(school_id, year, rights_type).permissions:
            raise ApiError(403, "rights_forbidden", refusal(permission)
                           + self._from_when(school_id, year, rights_type, permission) + ".")

    def _from_when(self, school_id: int, year: str, rights_type: str, permission: str) -> str:
        """", dat kan vanaf 20/12/2026 09:00" when the permission comes by itself at the free-registration
        start; nothing when it does not."""
        changes_at = self.evaluate(school_id, year, rights_type).changes_at
        if changes_at is None:
            return ""
        later = evaluate(self.role, school_id in self.linked, year, rights_type, self.settings, changes_at)
        return f"; dat kan vanaf {moment(changes_at, self.tz)}" if permission in later.permissions else ""
