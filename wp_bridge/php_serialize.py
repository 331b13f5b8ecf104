"""PHP ``serialize()``/``unserialize()`` for the values WordPress keeps in usermeta and sitemeta.

Only scalars and arrays are supported: objects (``O:``/``C:``) are refused, so a hostile or broken
value can never be turned into anything but plain data. String lengths are counted in UTF-8 bytes,
as PHP does.
"""

from __future__ import annotations

from collections.abc import Mapping

PhpValue = None | bool | int | float | str | dict


class PhpSerializeError(ValueError):
    pass


# PHP's trim(): WordPress trims a stored value before unserializing it.
PHP_TRIM = " \t\n\r\0\x0b"


def maybe_unserialize(data: str) -> PhpValue:
    """A stored meta or option value read as WordPress reads it (``maybe_unserialize()`` on PHP 8.2):
    trimmed first; ``is_serialized()`` wants it to end in ``;`` or ``}``; PHP's ``unserialize()`` then
    ignores anything after the first complete value and accepts a ``+`` on integers. Raises
    PhpSerializeError for a value WordPress would not read as serialized data either."""
    text = data.strip(PHP_TRIM)
    if text == "N;":
        return None
    if len(text) < 4 or text[1:2] != ":" or text[-1:] not in (";", "}"):
        raise PhpSerializeError("not a serialized value")
    value, _end = _parse(text.encode("utf-8"), 0, depth=0)
    return value


def unserialize(data: str | bytes) -> PhpValue:
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    value, end = _parse(raw, 0, depth=0)
    if end != len(raw):
        raise PhpSerializeError(f"trailing data at byte {end}")
    return value


def _read_until(raw: bytes, pos: int, terminator: bytes) -> tuple[bytes, int]:
    end = raw.find(terminator, pos)
    if end < 0:
        raise PhpSerializeError(f"missing {terminator.decode()!r} after byte {pos}")
    return raw[pos:end], end + 1


def _int(text: bytes, pos: int) -> int:
    if not text or not (text.isdigit() or (text[:1] in (b"-", b"+") and text[1:].isdigit())):
        raise PhpSerializeError(f"bad integer at byte {pos}")
    return int(text)


def _parse(raw: bytes, pos: int, depth: int) -> tuple[PhpValue, int]:
    if depth > 32:
        raise PhpSerializeError("nesting too deep")
    kind = raw[pos : pos + 2]
    if kind == b"N;":
        return None, pos + 2
    if kind == b"b:":
        text, end = _read_until(raw, pos + 2, b";")
        if text not in (b"0", b"1"):
            raise PhpSerializeError(f"bad boolean at byte {pos}")
        return text == b"1", end
    if kind == b"i:":
        text, end = _read_until(raw, pos + 2, b";")
        return _int(text, pos), end
    if kind == b"d:":
        text, end = _read_until(raw, pos + 2, b";")
        try:
            return float(text), end
        except ValueError:
            raise PhpSerializeError(f"bad float at byte {pos}") from None
    if kind == b"s:":
        text, start = _read_until(raw, pos + 2, b":")
        length = _int(text, pos)
        if raw[start : start + 1] != b'"' or length < 0:
            raise PhpSerializeError(f"bad string at byte {pos}")
        body_end = start + 1 + length
        if raw[body_end : body_end + 2] != b'";':
            raise PhpSerializeError(f"string length does not match at byte {pos}")
        try:
            return raw[start + 1 : body_end].decode("utf-8"), body_end + 2
        except UnicodeDecodeError:
            raise PhpSerializeError(f"string is not UTF-8 at byte {pos}") from None
    if kind == b"a:":
        text, start = _read_until(raw, pos + 2, b":")
        count = _int(text, pos)
        if raw[start : start + 1] != b"{" or count < 0:
            raise PhpSerializeError(f"bad array at byte {pos}")
        pos, result = start + 1, {}
        for _ in range(count):
            key, pos = _parse(raw, pos, depth + 1)
            if not isinstance(key, (int, str)) or isinstance(key, bool):
                raise PhpSerializeError(f"array key must be int or string at byte {pos}")
            result[key], pos = _parse(raw, pos, depth + 1)
        if raw[pos : pos + 1] != b"}":
            raise PhpSerializeError(f"array not closed at byte {pos}")
        return result, pos + 1
    raise PhpSerializeError(f"unsupported value type {kind[:1]!r} at byte {pos}")


def serialize(value: PhpValue) -> str:
    if value is None:
        return "N;"
    if isinstance(value, bool):
        return f"b:{int(value)};"
    if isinstance(value, int):
        return f"i:{value};"
    if isinstance(value, float):
        return f"d:{value!r};"
    if isinstance(value, str):
        return f's:{len(value.encode("utf-8"))}:"{value}";'
    if isinstance(value, Mapping):
        items = "".join(serialize(k) + serialize(v) for k, v in value.items())
        return f"a:{len(value)}:{{{items}}}"
    if isinstance(value, (list, tuple)):
        return serialize(dict(enumerate(value)))
    raise TypeError(f"cannot serialize {type(value).__name__}")
