"""Reading and writing a site's ``{prefix}options`` rows."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, select

from .tables import core_site_tables


def get_options(conn: Connection, prefix: str, names: Iterable[str]) -> dict[str, str]:
    options = core_site_tables(prefix).options
    rows = conn.execute(
        select(options.c.option_name, options.c.option_value).where(options.c.option_name.in_(list(names)))
    )
    return {name: value for name, value in rows}


def get_option(conn: Connection, prefix: str, name: str) -> str | None:
    return get_options(conn, prefix, [name]).get(name)


def set_option(conn: Connection, prefix: str, name: str, value: str, *, autoload: str = "no") -> bool:
    """Insert or update one option; returns whether the stored value changed."""
    options = core_site_tables(prefix).options
    current = conn.execute(
        select(options.c.option_value).where(options.c.option_name == name)
    ).scalar_one_or_none()
    if current == value:
        return False
    if current is None:
        conn.execute(options.insert().values(option_name=name, option_value=value, autoload=autoload))
    else:
        conn.execute(options.update().where(options.c.option_name == name).values(option_value=value))
    return True
