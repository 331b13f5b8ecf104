"""Request signing exactly as architecture.md specifies it."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest

from service import create_app
from service.signing import sign_headers
from tests.conftest import OTHER_SECRET, SECRET, SignedClient

PATH = "/api/v1/sites/2/schools"


def test_canonical_string_matches_the_documented_format(client, users):
    # Built by hand from architecture.md, independent of service.signing.
    timestamp, nonce, body = str(int(time.time())), "Hand-Made_nonce-0001", b'{"name": "x"}'
    path = "/api/v1/sites/2/schools?b=2&a=%20"
    canonical = "\n".join(["v1", timestamp, nonce, "POST", path, str(users.expert2), "",
                           hashlib.sha256(body).hexdigest()])
    sig = "v1=" + hmac.new(SECRET.encode(), canonical.encode(), hashlib.sha256).hexdigest()
    headers = {"X-LOP-Timestamp": timestamp, "X-LOP-Nonce": nonce, "X-LOP-User": str(users.expert2),
               "X-LOP-Signature": sig, "Content-Type": "application/json"}
    response = client.client.open(path, method="POST", data=body, headers=headers)
    # Signature accepted: the request reached validation (the body lacks type and vestigingen).
    assert response.status_code == 422, response.json
    assert response.json["code"] == "validation_failed"


def test_good_request_passes(client, users):
    response = client.get(PATH, user=users.expert2)
    assert response.status_code == 200
    assert response.json == {"schools": []}
    assert response.headers["X-Request-ID"]


def test_rotated_secret_is_accepted(app, users):
    response = SignedClient(app.test_client(), OTHER_SECRET).get(PATH, user=users.expert2)
    assert response.status_code == 200


@pytest.mark.parametrize("header", ["X-LOP-Timestamp", "X-LOP-Nonce", "X-LOP-User", "X-LOP-Signature"])
def test_missing_header_is_refused(app, users, header):
    headers = sign_headers(SECRET, "GET", PATH, user=users.expert2)
    del headers[header]
    response = app.test_client().get(PATH, headers=headers)
    assert response.status_code == 401
    assert response.json["code"] == "auth_missing"
    assert header in response.json["detail"]
    assert response.content_type == "application/problem+json"


def test_no_headers_at_all(app, users):
    response = app.test_client().get(PATH)
    assert (response.status_code, response.json["code"]) == (401, "auth_missing")


def test_wrong_secret_is_refused(app, users):
    response = SignedClient(app.test_client(), "some-other-secret-0000000").get(PATH, user=users.expert2)
    assert (response.status_code, response.json["code"]) == (401, "auth_bad_signature")


def _signed_then_changed(app, users, change):
    body = json.dumps({"name": "School", "type": "BaO", "vestigingen": [{"instellingsnummer": 1, "vestigingsnummer": 1}]}).encode()
    headers = sign_headers(SECRET, "POST", PATH, user=users.expert2, body=body)
    path, body, headers = change(PATH, body, headers)
    return app.test_client().open(path, method="POST", data=body, headers={**headers, "Content-Type": "application/json"})


@pytest.mark.parametrize("name, change", [
    ("body", lambda p, b, h: (p, b.replace(b"School", b"Schoo1"), h)),
    ("switched-from added", lambda p, b, h: (p, b, {**h, "X-LOP-Switched-From": "1"})),
    ("user", lambda p, b, h: (p, b, {**h, "X-LOP-User": "1"})),
    ("path", lambda p, b, h: (p.replace("/2/", "/3/"), b, h)),
    ("query string", lambda p, b, h: (p + "?force=true", b, h)),
    ("method", None),
])
def test_request_changed_after_signing_is_refused(app, users, name, change):
    if change is None:  # signed as POST, sent as PUT
        body = b"{}"
        headers = sign_headers(SECRET, "POST", PATH, user=users.expert2, body=body)
        response = app.test_client().open(PATH, method="PUT", data=body, headers=headers)
    else:
        response = _signed_then_changed(app, users, change)
    assert (response.status_code, response.json["code"]) == (401, "auth_bad_signature"), name


def test_switched_from_changed_after_signing_is_refused(app, users):
    headers = sign_headers(SECRET, "GET", PATH, user=users.admin2, switched_from=users.expert2)
    headers["X-LOP-Switched-From"] = str(users.operator)
    response = app.test_client().get(PATH, headers=headers)
    assert (response.status_code, response.json["code"]) == (401, "auth_bad_signature")


@pytest.mark.parametrize("offset, accepted", [(-301, False), (301, False), (-299, True), (299, True)])
def test_timestamp_window(app, users, offset, accepted):
    headers = sign_headers(SECRET, "GET", PATH, user=users.expert2, timestamp=int(time.time()) + offset)
    response = app.test_client().get(PATH, headers=headers)
    if accepted:
        assert response.status_code == 200
    else:
        assert (response.status_code, response.json["code"]) == (401, "auth_stale")


def test_replayed_nonce_is_refused(app, users):
    headers = sign_headers(SECRET, "GET", PATH, user=users.expert2)
    test_client = app.test_client()
    assert test_client.get(PATH, headers=headers).status_code == 200
    replay = test_client.get(PATH, headers=headers)
    assert (replay.status_code, replay.json["code"]) == (401, "auth_replay")


def test_replay_is_refused_by_a_second_app_instance_on_the_same_database(rt, users):
    from service.runtime import Runtime
    from wp_bridge.db import make_engine

    second_runtime = Runtime(rt.config, make_engine(rt.config.database_url), rt.network)
    first, second = create_app(runtime=rt).test_client(), create_app(runtime=second_runtime).test_client()
    headers = sign_headers(SECRET, "GET", PATH, user=users.expert2)
    assert first.get(PATH, headers=headers).status_code == 200
    replay = second.get(PATH, headers=headers)
    assert (replay.status_code, replay.json["code"]) == (401, "auth_replay")
    second_runtime.engine.dispose()


def test_a_request_with_a_bad_signature_does_not_burn_its_nonce(app, users):
    good = sign_headers(SECRET, "GET", PATH, user=users.expert2)
    forged = {**good, "X-LOP-Signature": "v1=" + "0" * 64}
    test_client = app.test_client()
    assert test_client.get(PATH, headers=forged).json["code"] == "auth_bad_signature"
    assert test_client.get(PATH, headers=good).status_code == 200


@pytest.mark.parametrize("header, value", [
    ("X-LOP-Nonce", "short"),
    ("X-LOP-Nonce", "has spaces in it 1234"),
    ("X-LOP-Nonce", "x" * 65),
    ("X-LOP-Timestamp", "12.5"),
    ("X-LOP-User", "-1"),
    ("X-LOP-User", "admin"),
    ("X-LOP-Switched-From", "abc"),
])
def test_malformed_headers_are_refused(app, users, header, value):
    headers = {**sign_headers(SECRET, "GET", PATH, user=users.expert2), header: value}
    response = app.test_client().get(PATH, headers=headers)
    assert response.status_code == 401
    assert response.json["code"] == "auth_malformed"


@pytest.mark.parametrize("path", ["/api/v1/health", "/api/v1/health/live", "/api/v1/openapi.json"])
def test_health_and_openapi_need_no_signature(app, path):
    assert app.test_client().get(path).status_code == 200


def test_unknown_route_still_needs_a_signature(app):
    assert app.test_client().get("/api/v1/nothing-here").status_code == 401


def test_body_over_10_mb_is_refused_with_413(client, users):
    response = client.post(PATH, user=users.expert2, data=b"x" * (10 * 1024 * 1024 + 1))
    assert response.status_code == 413
    assert response.json["code"] == "payload_too_large"
