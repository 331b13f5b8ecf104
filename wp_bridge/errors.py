"""Errors the data layer reports; the HTTP layer maps them to problem responses."""

import re

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError


class DataError(Exception):
    status = 400

    def __init__(self, code: str, detail: str):
        super().__init__(detail)
        self.code = code
        self.detail = detail


class NotFound(DataError):
    status = 404


class Conflict(DataError):
    status = 409


class Busy(DataError):
    status = 503


# Server errors whose quoted parts name operations, collations, tables or hosts, never stored values.
_ERRNOS_QUOTING_NAMES = {1044, 1045, 1049, 1054, 1253, 1142, 1146, 1267, 1270, 1271, 2003, 2005}
_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'")


def database_error_number(exc: BaseException) -> int | None:
    """The MySQL/MariaDB error number behind a (SQLAlchemy-wrapped) driver error, if any."""
    errno = getattr(getattr(exc, "orig", None), "errno", None) or getattr(exc, "errno", None)
    return errno if isinstance(errno, int) and errno > 0 else None


def describe_database_error(exc: BaseException) -> str:
    """What the database said, fit for operators' terminals, job records and logs: the error number and the
    server's message with quoted values redacted (``1062 Duplicate entry '…' for key '…'``). Never the SQL
    or its parameters (SQLAlchemy's own text carries those, so only the driver's message is used)."""
    orig = getattr(exc, "orig", None) or exc
    errno = database_error_number(exc)
    message = getattr(orig, "msg", None)
    if not errno or not isinstance(message, str):
        return type(orig).__name__
    message = " ".join(message.split())[:300]
    if errno not in _ERRNOS_QUOTING_NAMES:
        message = _QUOTED.sub("'…'", message)
    return f"{errno} {message}"


# Client and server error numbers that mean "not now" rather than "wrong": cannot connect (2002, 2003, 2005), lost
# connection (2006, 2013, 2055), too many connections (1040), lock wait timeout (1205), deadlock (1213).
# mysql-connector raises "cannot connect" as a DatabaseError, not an OperationalError: the number decides.
_TRANSIENT_ERRNOS = {1040, 1205, 1213, 2002, 2003, 2005, 2006, 2013, 2055}


def is_transient(exc: BaseException) -> bool:
    """A database error that a later attempt may not meet: the server is away, restarting or busy. The
    statement failed as a whole (its transaction rolled back)."""
    if not isinstance(exc, DBAPIError):
        return False
    return (isinstance(exc, (OperationalError, InterfaceError)) or exc.connection_invalidated
            or database_error_number(exc) in _TRANSIENT_ERRNOS)
