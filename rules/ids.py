"""Ids as the database keeps them: WordPress's ids are BIGINT; SQLite and MySQL's signed BIGINT stop at
2^63 - 1. A number beyond that names nothing that can exist."""

MAX_ID = 2**63 - 1


def is_id(value: object, *, minimum: int = 1) -> bool:
    """A JSON/Python integer (not a bool) that can be an id."""
    return isinstance(value, int) and not isinstance(value, bool) and minimum <= value <= MAX_ID
