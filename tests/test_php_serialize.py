"""PHP-serialized values as WordPress stores them in usermeta and sitemeta."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rules.roles import Role, RoleSlugs, granted_roles, resolve_role
from wp_bridge.php_serialize import PhpSerializeError, serialize, unserialize
from wp_bridge.users import parse_capabilities

# Values exactly as WordPress writes them (string lengths in UTF-8 bytes).
REAL_VALUES = [
    ('a:1:{s:13:"administrator";b:1;}', {"administrator": True}),
    ('a:1:{s:15:"schoolbeheerder";b:1;}', {"schoolbeheerder": True}),
    ('a:2:{s:10:"subscriber";b:1;s:15:"schoolbeheerder";b:1;}', {"subscriber": True, "schoolbeheerder": True}),
    ('a:1:{s:18:"schoolbeheerder_é";b:1;}', {"schoolbeheerder_é": True}),  # é is two bytes
    ('a:1:{s:9:"编辑者";b:1;}', {"编辑者": True}),  # three bytes a character
    ('a:2:{i:0;s:5:"admin";i:1;s:13:"netwerkbeheer";}', {0: "admin", 1: "netwerkbeheer"}),  # site_admins
    ('a:0:{}', {}),
    ('a:1:{s:6:"editor";b:0;}', {"editor": False}),
]


@pytest.mark.parametrize("raw, expected", REAL_VALUES)
def test_real_wordpress_values(raw, expected):
    assert unserialize(raw) == expected
    assert serialize(expected) == raw


def test_serialize_a_list_as_wordpress_does():
    assert serialize(["netwerkbeheer"]) == 'a:1:{i:0;s:13:"netwerkbeheer";}'


@pytest.mark.parametrize("raw", [
    'a:1:{s:14:"schoolbeheerder";b:1;}',  # length one short
    'a:1:{s:16:"schoolbeheerder";b:1;}',  # length one long
    'a:1:{s:17:"schoolbeheerder_é";b:1;}',  # counted in characters instead of bytes
    'a:2:{s:13:"administrator";b:1;}',  # count says two
    'a:1:{s:13:"administrator";b:1;',  # not closed
    'a:1:{s:13:"administrator";b:2;}',  # not a boolean
    'O:8:"stdClass":1:{s:1:"a";b:1;}',  # objects are never unserialized
    'a:1:{b:1;b:1;}',  # boolean key
    'a:1:{s:13:"administrator";b:1;}trailing',
    '',
    'garbage',
    'a:-1:{}',
    'i:12a;',
    "a:1:{s:3:\"abc\";" * 40,  # deep and broken
])
def test_malformed_values_are_refused(raw):
    with pytest.raises(PhpSerializeError):
        unserialize(raw)


def test_malformed_capabilities_grant_no_role():
    assert parse_capabilities('a:1:{s:14:"schoolbeheerder";b:1;}') == set()
    assert parse_capabilities('O:8:"stdClass":0:{}') == set()
    assert parse_capabilities('s:13:"administrator";') == set()  # a string, not an array
    assert parse_capabilities(None) == set()


def test_revoked_roles_are_not_granted():
    assert granted_roles({"administrator": False, "schoolbeheerder": True}) == {"schoolbeheerder"}


@pytest.mark.parametrize("super_admin, roles, expected", [
    (True, set(), Role.OPERATOR),
    (False, {"administrator", "schoolbeheerder"}, Role.LOP_EXPERT),
    (False, {"schoolbeheerder"}, Role.SCHOOL_ADMIN),
    (False, {"subscriber", "editor"}, None),
    (False, set(), None),
])
def test_role_mapping(super_admin, roles, expected):
    assert resolve_role(super_admin, roles) == expected


def test_role_slugs_are_configurable():
    slugs = RoleSlugs(lop_expert="lop_deskundige", school_admin="beheerder_é")
    assert resolve_role(False, {"beheerder_é"}, slugs) == Role.SCHOOL_ADMIN
    assert resolve_role(False, {"administrator"}, slugs) is None


keys = st.one_of(st.integers(-10**6, 10**6), st.text(max_size=20).filter(lambda s: not s.lstrip("-").isdigit()))
scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12), st.text(max_size=30))
values = st.recursive(scalars, lambda inner: st.dictionaries(keys, inner, max_size=5), max_leaves=20)


@given(values)
def test_round_trip(value):
    assert unserialize(serialize(value)) == value


@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_crash(raw):
    try:
        unserialize(raw)
    except PhpSerializeError:
        pass
