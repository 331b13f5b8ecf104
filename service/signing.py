"""Request signing shared by the WordPress plugin, ``lop-sidecar call`` and the API (architecture.md).

canonical = "v1\\n{timestamp}\\n{nonce}\\n{METHOD}\\n{path?query}\\n{user}\\n{switched_from}\\n{sha256(body)}"
signature = "v1=" + hex(HMAC-SHA256(secret, canonical))
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time

NONCE_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,64}")
MAX_CLOCK_SKEW_SECONDS = 300

H_TIMESTAMP = "X-LOP-Timestamp"
H_NONCE = "X-LOP-Nonce"
H_USER = "X-LOP-User"
H_SWITCHED_FROM = "X-LOP-Switched-From"
H_SIGNATURE = "X-LOP-Signature"


def canonical_string(timestamp: str, nonce: str, method: str, path_and_query: str, user: str,
                     switched_from: str, body: bytes) -> str:
    return "\n".join([
        "v1", timestamp, nonce, method.upper(), path_and_query, user, switched_from,
        hashlib.sha256(body).hexdigest(),
    ])


def signature(secret: str, canonical: str) -> str:
    return "v1=" + hmac.new(secret.encode("utf-8"), canonical.encode("utf-8"), hashlib.sha256).hexdigest()


def sign_headers(secret: str, method: str, path_and_query: str, *, user: int = 0,
                 switched_from: int | None = None, body: bytes = b"", timestamp: int | None = None,
                 nonce: str | None = None) -> dict[str, str]:
    """The headers that authenticate one request."""
    timestamp_text = str(int(time.time()) if timestamp is None else timestamp)
    nonce = nonce or secrets.token_urlsafe(24)
    switched_text = "" if switched_from is None else str(switched_from)
    headers = {
        H_TIMESTAMP: timestamp_text,
        H_NONCE: nonce,
        H_USER: str(user),
        H_SIGNATURE: signature(
            secret, canonical_string(timestamp_text, nonce, method, path_and_query, str(user), switched_text, body)
        ),
    }
    if switched_from is not None:
        headers[H_SWITCHED_FROM] = switched_text
    return headers
