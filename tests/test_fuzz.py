"""Fuzzing every operation of openapi.json with schemathesis (issue 13), on SQLite, signed as the plugin
signs, as an operator and as a school admin: no 5xx, status codes and content types as documented, bodies
as their schemas say. Bounded: a fixed seed and a fixed number of examples per operation."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import io
import secrets
import time
from urllib.parse import quote

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode, checks

from service import create_app
from service.runtime import Runtime
from tests.conftest import SECRET, SignedClient, add_user, make_config
from wp_bridge.db import make_engine, utcnow
from wp_bridge.job_runs import heartbeat
from wp_bridge.php_serialize import serialize
from wp_bridge.site_admin import enable_site
from wp_bridge.sites import Network
from wp_bridge.wp_install import add_site, install_network

EXAMPLES = 25
CHECKS = [checks.not_a_server_error, checks.status_code_conformance, checks.content_type_conformance,
          checks.response_schema_conformance]


class Signer:
    """WSGI middleware that signs each request as the WordPress plugin would, for the user of the moment:
    the fuzzer exercises the API behind the signature, not the signature itself (tests/test_signing.py)."""

    def __init__(self, app):
        self.app, self.user = app, 0

    def __call__(self, environ, start_response):
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(body)
        query = environ.get("QUERY_STRING", "")
        raw = environ.get("RAW_URI") or environ.get("REQUEST_URI") or (
            quote(environ.get("PATH_INFO", ""), safe="/%:@!$&'()*+,;=-._~") + (f"?{query}" if query else ""))
        timestamp, nonce = str(int(time.time())), secrets.token_urlsafe(24)
        canonical = "\n".join(["v1", timestamp, nonce, environ["REQUEST_METHOD"].upper(), raw, str(self.user), "",
                               hashlib.sha256(body).hexdigest()])
        environ.update({
            "HTTP_X_LOP_TIMESTAMP": timestamp, "HTTP_X_LOP_NONCE": nonce, "HTTP_X_LOP_USER": str(self.user),
            "HTTP_X_LOP_SIGNATURE": "v1=" + hmac.new(SECRET.encode(), canonical.encode(), hashlib.sha256).hexdigest(),
        })
        return self.app(environ, start_response)


def _world(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'lop.sqlite'}"
    runtime = Runtime(make_config(url), make_engine(url), Network("wp_"))
    with runtime.engine.begin() as conn:
        install_network(conn, runtime.network, domain="lop.test", name="Portaal")
        add_site(conn, runtime.network, 2, domain="lop.test", path="/bao/", name="LOP Test BaO")
    enable_site(runtime.engine, runtime.network, 2, runtime.today())
    # a scheduler that stays fresh for the whole run: queued runs are accepted (nothing runs them here)
    heartbeat(runtime.engine, runtime.network_tables, "fuzz-scheduler", utcnow(), {})
    with runtime.engine.begin() as conn:
        schedulers = runtime.network_tables.schedulers
        conn.execute(schedulers.update().values(heartbeat_at=utcnow() + dt.timedelta(days=1)))
        operator = add_user(conn, runtime.network, "operator", {1: "administrator"})
        conn.execute(runtime.network.core.sitemeta.insert().values(site_id=1, meta_key="site_admins",
                                                                    meta_value=serialize(["operator"])))
        admin = add_user(conn, runtime.network, "admin2", {2: "schoolbeheerder"})
        conn.execute(runtime.network_tables.admgr.insert(), [
            {"code": code, "description": text, "onderwijsniveau": "BaO", "leerjaar": year, "active": True,
             "updated_at": utcnow()} for code, text, year in ((1, "Lager onderwijs - 1ste leerjaar", 1),
                                                              (10000, "Anderstalige nieuwkomers", None))])
    # something to find behind the low ids the fuzzer tries first: school 1 with an offering, its admin linked
    client = SignedClient(create_app(runtime=runtime).test_client())
    school = client.post("/api/v1/sites/2/schools", user=operator, json={
        "name": "De Linde", "type": "BaO", "vestigingen": [{"instellingsnummer": 1, "vestigingsnummer": 1}]})
    assert school.status_code == 201, school.json
    assert client.post(f"/api/v1/sites/2/schools/{school.json['id']}/offerings", user=operator,
                       json={"year": "current", "admgr_code": 1, "capacity": 20}).status_code == 201
    assert client.post(f"/api/v1/sites/2/schools/{school.json['id']}/admins", user=operator,
                       json={"email": "admin2@example.org"}).status_code in (200, 201)
    return runtime, {"operator": operator, "school_admin": admin}


app = create_app(make_config("sqlite://"))  # replaced per session below; schemathesis needs the schema at import
signer = Signer(app.wsgi_app)
app.wsgi_app = signer
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
# The LOP site of the world below (random site ids would mostly find nothing; tests/test_hostile_input.py
# covers ids that do not exist)
schema.config.update(parameters={"site_id": 2})


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    runtime, users = _world(tmp_path_factory)
    app.extensions["lop_sidecar"] = runtime
    yield users
    runtime.engine.dispose()


@pytest.mark.parametrize("who", ["operator", "school_admin"])
@schema.parametrize()
@settings(max_examples=EXAMPLES, derandomize=True, deadline=None,
          suppress_health_check=list(HealthCheck))
def test_api(case, world, who):
    signer.user = world[who]
    case.call_and_validate(checks=CHECKS)
