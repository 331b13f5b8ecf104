"""``lop-sidecar call``: sign and send one request, for operators and tests."""

from __future__ import annotations

import json
import mimetypes
import os
import sys

import requests

from .signing import sign_headers


def _uploads(files: list[str]) -> dict[str, tuple[str, bytes, str]] | str:
    """``FIELD=@PATH`` arguments → the multipart files of requests, or the error message."""
    uploads = {}
    for spec in files:
        field, sep, path = spec.partition("=@")
        if not sep or not field or not path:
            return f"--file needs FIELD=@PATH (e.g. file=@admins.xlsx), got {spec!r}"
        try:
            with open(path, "rb") as handle:
                content = handle.read()
        except OSError as exc:
            return f"--file {field}: cannot read {path}: {exc.strerror}"
        kind = mimetypes.guess_type(path)[0] or "application/octet-stream"
        uploads[field] = (os.path.basename(path), content, kind)
    return uploads


def call(api_url: str, secret: str, method: str, path: str, *, user: int, switched_from: int | None,
         data: str | None, output: str | None, files: list[str] | None = None, timeout: float = 60) -> int:
    if not path.startswith("/"):
        print(f"lop-sidecar call: PATH must start with '/', got {path!r}", file=sys.stderr)
        return 2
    if data is not None and files:
        print("lop-sidecar call: --data and --file cannot be combined", file=sys.stderr)
        return 2
    body = b""
    if data is not None:
        if data.startswith("@"):
            with open(data[1:], "rb") as handle:
                body = handle.read()
        else:
            body = data.encode("utf-8")
        try:
            json.loads(body)
        except ValueError as exc:
            print(f"lop-sidecar call: --data is not valid JSON: {exc}", file=sys.stderr)
            return 2
    uploads = _uploads(files) if files else {}
    if isinstance(uploads, str):
        print(f"lop-sidecar call: {uploads}", file=sys.stderr)
        return 2
    method = method.upper()
    # Prepared first (a multipart body gets its boundary here), then signed over exactly the bytes sent.
    prepared = requests.Request(method, api_url.rstrip("/"), data=body or None, files=uploads or None).prepare()
    sent = prepared.body or b""
    if isinstance(sent, str):
        sent = sent.encode("utf-8")
    prepared.headers.update(sign_headers(secret, method, path, user=user, switched_from=switched_from, body=sent))
    if body:
        prepared.headers["Content-Type"] = "application/json"
    try:
        # The path goes out exactly as signed: requests must not re-encode it.
        prepared.url = api_url.rstrip("/") + path
        response = requests.Session().send(prepared, timeout=timeout)
    except requests.RequestException as exc:
        print(f"lop-sidecar call: cannot reach {api_url}: {type(exc).__name__}", file=sys.stderr)
        return 2
    content_type = response.headers.get("Content-Type", "")
    if "json" in content_type:
        try:
            print(json.dumps(response.json(), indent=2, ensure_ascii=False))
        except ValueError:
            print(response.text)
    elif output:
        with open(output, "wb") as handle:
            handle.write(response.content)
        print(f"{response.status_code}: {len(response.content)} bytes written to {output}", file=sys.stderr)
    elif response.content:
        print(response.text if content_type.startswith("text/") else f"{len(response.content)} bytes of {content_type}; use --output FILE")
    if response.status_code >= 400:
        print(f"HTTP {response.status_code}", file=sys.stderr)
        return 1
    return 0
