"""What the WordPress plugin must do after the sidecar wrote WordPress's own tables directly.

Direct writes bypass WordPress's object cache and its hooks. Every route that writes users, roles or
options returns this as ``"wordpress"``: the plugin clears ``clean_user_cache()`` and the ``user_meta``
cache of those users, updates the network's user counts, deletes ``notoptions`` for those options and
fires the named actions (``user_register``, ``add_user_to_blog``, ``remove_user_from_blog``) so that other
plugins hear of the change (README, "After a write")."""

from __future__ import annotations

import json
from dataclasses import dataclass, field


@dataclass
class WordPressEffects:
    clean_user_cache: set[int] = field(default_factory=set)
    actions: list[dict] = field(default_factory=list)
    options: list[dict] = field(default_factory=list)

    def user_changed(self, user_id: int) -> None:
        self.clean_user_cache.add(user_id)

    def action(self, name: str, user_id: int, blog_id: int, role: str) -> None:
        self.clean_user_cache.add(user_id)
        self.actions.append({"name": name, "user_id": user_id, "blog_id": blog_id, "role": role})

    def option_changed(self, blog_id: int, name: str) -> None:
        entry = {"blog_id": blog_id, "name": name}
        if entry not in self.options:
            self.options.append(entry)

    def as_json(self) -> dict:
        return {"clean_user_cache": sorted(self.clean_user_cache), "actions": self.actions, "options": self.options}

    def header(self) -> str:
        """The same, compact, for the ``X-LOP-WordPress`` header of a response that is a file."""
        return json.dumps(self.as_json(), separators=(",", ":"))
