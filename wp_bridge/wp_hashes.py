"""WordPress's password-reset keys and password hashes, written exactly as WordPress writes them.

A reset key is 20 random alphanumeric characters; ``user_activation_key`` stores
``"{unix time}:{hash(key)}"``. From WordPress 6.8 (db_version 60421) the hash is
``"$generic$" + base64url-nopad(BLAKE2b(key, 30 bytes, key=b"wp_fast_hash_6.8+"))`` (``wp_fast_hash``);
before that a phpass portable hash (``$P$…``, ``PasswordHash(8, true)``).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import string

WP_6_8_DB_VERSION = 60421
KEY_ALPHABET = string.ascii_letters + string.digits
_ITOA64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def generate_reset_key() -> str:
    """As ``wp_generate_password(20, false)``."""
    return "".join(secrets.choice(KEY_ALPHABET) for _ in range(20))


def fast_hash(message: str) -> str:
    """WordPress 6.8's ``wp_fast_hash()``."""
    digest = hashlib.blake2b(message.encode("utf-8"), digest_size=30, key=b"wp_fast_hash_6.8+").digest()
    return "$generic$" + base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _encode64(data: bytes, count: int) -> str:
    """phpass's own base-64 (not RFC 4648)."""
    output, i = [], 0
    while i < count:
        value = data[i]
        i += 1
        output.append(_ITOA64[value & 0x3F])
        if i < count:
            value |= data[i] << 8
        output.append(_ITOA64[(value >> 6) & 0x3F])
        if i >= count:
            break
        i += 1
        if i < count:
            value |= data[i] << 16
        output.append(_ITOA64[(value >> 12) & 0x3F])
        if i >= count:
            break
        i += 1
        output.append(_ITOA64[(value >> 18) & 0x3F])
    return "".join(output)


def phpass_hash(password: str, *, salt: bytes | None = None, iteration_log2: int = 8) -> str:
    """phpass portable hash as WordPress's ``PasswordHash(8, true)->HashPassword()`` writes it."""
    salt = salt if salt is not None else secrets.token_bytes(6)
    setting = "$P$" + _ITOA64[min(iteration_log2 + 5, 30)] + _encode64(salt, 6)
    return _crypt_private(password, setting)


def _crypt_private(password: str, setting: str) -> str:
    count_log2 = _ITOA64.index(setting[3])
    salt = setting[4:12]
    secret = password.encode("utf-8")
    digest = hashlib.md5(salt.encode() + secret).digest()
    for _ in range(1 << count_log2):
        digest = hashlib.md5(digest + secret).digest()
    return setting[:12] + _encode64(digest, 16)


def phpass_check(password: str, stored: str) -> bool:
    return stored.startswith("$P$") and secrets.compare_digest(_crypt_private(password, stored), stored)


def activation_key_value(key: str, unix_time: int, db_version: int) -> str:
    """What ``get_password_reset_key()`` stores in ``user_activation_key`` for this WordPress version."""
    hashed = fast_hash(key) if db_version >= WP_6_8_DB_VERSION else phpass_hash(key)
    return f"{unix_time}:{hashed}"
