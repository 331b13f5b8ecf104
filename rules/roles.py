"""Who a WordPress user is to the sidecar on one LOP site.

The roles come from WordPress: a super admin of the network is an ``operator`` on every site, the
``administrator`` of a site is its ``lop_expert`` (LOP-deskundige) and a ``schoolbeheerder`` is a
``school_admin``. The WordPress role slugs are configurable.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass


class Role(str, enum.Enum):
    OPERATOR = "operator"
    LOP_EXPERT = "lop_expert"
    SCHOOL_ADMIN = "school_admin"

    def __str__(self) -> str:
        return self.value


MANAGERS = frozenset({Role.OPERATOR, Role.LOP_EXPERT})  # may manage a site's schools


@dataclass(frozen=True)
class RoleSlugs:
    lop_expert: str = "administrator"
    school_admin: str = "schoolbeheerder"


def granted_roles(capabilities: Mapping[object, object]) -> set[str]:
    """The role names a WordPress capabilities array grants (``{"role": true}``; false means revoked)."""
    return {str(name) for name, granted in capabilities.items() if granted is True or granted == 1}


def resolve_role(
    is_super_admin: bool, wordpress_roles: Iterable[str], slugs: RoleSlugs = RoleSlugs()
) -> Role | None:
    """The strongest sidecar role a user has on a site, or None when they have none of them."""
    if is_super_admin:
        return Role.OPERATOR
    roles = set(wordpress_roles)
    if slugs.lop_expert in roles:
        return Role.LOP_EXPERT
    if slugs.school_admin in roles:
        return Role.SCHOOL_ADMIN
    return None
