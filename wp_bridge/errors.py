"""Errors the data layer reports; the HTTP layer maps them to problem responses."""


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
