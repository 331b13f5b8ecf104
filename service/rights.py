"""The rights of the caller (or of a previewed user) on a site's schools and offerings."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Connection

from rules.rights import FIELD_PERMISSIONS, Evaluation, RightsSettings, evaluate
from rules.roles import MANAGERS, Role
from wp_bridge.schools import linked_school_ids
from wp_bridge.settings import site_rights_settings
from wp_bridge.sites import WpSite
from wp_bridge.tables import SiteTables

from .errors import ApiError


@dataclass(frozen=True)
class Rights:
    role: Role | None
    user_id: int
    settings: RightsSettings
    linked: frozenset[int]
    now: dt.datetime  # aware

    @classmethod
    def load(cls, conn: Connection, site: WpSite, tables: SiteTables, role: Role | None, user_id: int,
             now: dt.datetime | None = None) -> Rights:
        """The settings come with ``site`` (read in the request's transaction); only a school admin's
        linked schools take a query."""
        settings = site_rights_settings(site)
        linked = frozenset(linked_school_ids(conn, tables, user_id)) if role is Role.SCHOOL_ADMIN else frozenset()
        return cls(role, user_id, settings, linked, now or dt.datetime.now(dt.timezone.utc))

    def can_see(self, school_id: int) -> bool:
        return self.role in MANAGERS or school_id in self.linked

    def require_school(self, school_id: int) -> None:
        if not self.can_see(school_id):
            raise ApiError(403, "forbidden", "this school is not linked to you")

    def evaluate(self, school_id: int, year: str, rights_type: str) -> Evaluation:
        return evaluate(self.role, school_id in self.linked, year, rights_type, self.settings, self.now)

    def editable_fields(self, school_id: int, year: str, rights_type: str) -> list[str]:
        permissions = self.evaluate(school_id, year, rights_type).permissions
        return [name for name, permission in FIELD_PERMISSIONS.items() if permission in permissions]

    def require_fields(self, school_id: int, year: str, rights_type: str, fields) -> None:
        allowed = set(self.editable_fields(school_id, year, rights_type))
        forbidden = sorted(set(fields) - allowed)
        if forbidden:
            raise ApiError(403, "rights_forbidden_fields",
                           f"you may not change {', '.join(forbidden)} of this offering now",
                           errors=[{"field": name, "message": "not allowed by the rights for this period"}
                                   for name in forbidden])

    def require_permission(self, school_id: int, year: str, rights_type: str, permission: str) -> None:
        if permission not in self.evaluate(school_id, year, rights_type).permissions:
            raise ApiError(403, "rights_forbidden", f"{permission} is not allowed for this school and period")
