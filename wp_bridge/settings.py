"""A LOP site's settings (free-registration starts and school-admin rights), kept in one option."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass

from sqlalchemy import Connection, select

from rules.rights import RightsSettings, settings_from_storage, settings_to_storage

from .audit import Actor, Change, write_audit
from .db import is_mysql
from .options import set_option
from .sites import SETTINGS_OPTION, WpSite
from .tables import core_site_tables, site_tables


def _read(conn: Connection, prefix: str, *, for_update: bool = False) -> dict:
    options = core_site_tables(prefix).options
    query = select(options.c.option_value).where(options.c.option_name == SETTINGS_OPTION)
    if for_update and is_mysql(conn):
        query = query.with_for_update()
    value = conn.execute(query).scalar_one_or_none()
    return json.loads(value) if value else {}


def site_rights_settings(site: WpSite) -> RightsSettings:
    """The rights settings as read with the site (in the request's own transaction), parsed once per
    stored value."""
    return _parsed_rights_settings(site.settings_text or "")


@functools.lru_cache(maxsize=64)
def _parsed_rights_settings(text: str) -> RightsSettings:
    return settings_from_storage(json.loads(text) if text else {})


@dataclass(frozen=True)
class StoredSettings:
    """Everything the settings option holds, from one read."""

    rights: RightsSettings
    review: dict  # {"required": bool, "reasons": [...]}
    automatic_rollover: bool  # whether the scheduled rollover includes this site (default: yes)


def load_settings(conn: Connection, prefix: str) -> StoredSettings:
    stored = _read(conn, prefix)
    return StoredSettings(settings_from_storage(stored), stored.get("review") or {"required": False, "reasons": []},
                          bool(stored.get("automatic_rollover", True)))


def save_settings(conn: Connection, prefix: str, site_id: int, actor: Actor, settings: RightsSettings,
                  automatic: bool | None = None) -> list[Change]:
    """Store new settings (clearing any review request) with one audit row per changed value."""
    old_stored = _read(conn, prefix, for_update=True)
    old = settings_to_storage(settings_from_storage(old_stored))
    new = settings_to_storage(settings)
    changes: list[Change] = []
    for type_, start in new["free_registration_start"].items():
        if old["free_registration_start"][type_] != start:
            changes.append(Change("settings", "update", field=f"free_registration_start.{type_}",
                                  old=old["free_registration_start"][type_], new=start))
    for type_, periods in new["rights"].items():
        for period, permissions in periods.items():
            if old["rights"][type_][period] != permissions:
                changes.append(Change("settings", "update", field=f"rights.{type_}.{period}",
                                      old=old["rights"][type_][period], new=permissions))
    review = old_stored.get("review") or {}
    if review.get("required"):
        changes.append(Change("settings", "review_done", field="settings_review_required", old=True, new=False))
    was_automatic = bool(old_stored.get("automatic_rollover", True))
    if automatic is None:
        automatic = was_automatic
    elif automatic != was_automatic:
        changes.append(Change("settings", "update", field="automatic_rollover", old=was_automatic, new=automatic))
    document = {**new, "review": {"required": False, "reasons": []}, "automatic_rollover": automatic}
    set_option(conn, prefix, SETTINGS_OPTION, json.dumps(document, sort_keys=True))
    write_audit(conn, site_tables(prefix), site_id, actor, changes)
    return changes


def request_review(conn: Connection, prefix: str, reasons: list[str]) -> None:
    """Ask the LOP expert to review the settings (after a rollover); cleared by the next save."""
    stored = _read(conn, prefix, for_update=True)
    stored["review"] = {"required": True, "reasons": reasons}
    set_option(conn, prefix, SETTINGS_OPTION, json.dumps(stored, sort_keys=True))
