from __future__ import annotations

import pytest

from service import create_app
from tests.conftest import make_config
from wp_bridge.migrations import NETWORK_SCHEMA_VERSION


def test_health_reports_ok_and_versions(app):
    response = app.test_client().get("/api/v1/health")
    assert response.status_code == 200
    body = response.json
    assert body["status"] == "ok" and body["database"] == "ok"
    assert body["schema_version"] == NETWORK_SCHEMA_VERSION == 2
    assert body["version"]


def test_liveness_needs_no_database():
    app = create_app(make_config("mysql+mysqlconnector://root@127.0.0.1:1/lop"))
    response = app.test_client().get("/api/v1/health/live")
    assert (response.status_code, response.json) == (200, {"status": "ok"})


@pytest.mark.parametrize("url", [
    "sqlite:////nonexistent-dir/for/sure/lop.sqlite",
    "mysql+mysqlconnector://root@127.0.0.1:1/lop",  # nothing listens on port 1
])
def test_health_reports_503_when_the_database_is_down(url):
    app = create_app(make_config(url))
    response = app.test_client().get("/api/v1/health")
    assert response.status_code == 503
    assert response.json["database"] == "unavailable"
    assert "root@" not in response.get_data(as_text=True)


def test_signed_routes_fail_cleanly_when_the_database_is_down():
    from tests.conftest import SignedClient

    app = create_app(make_config("mysql+mysqlconnector://root@127.0.0.1:1/lop"))
    response = SignedClient(app.test_client()).get("/api/v1/sites", user=1)
    assert response.status_code == 503
    assert response.json["code"] == "database_unavailable"
    assert response.headers["Retry-After"] == "5"
    assert "127.0.0.1" not in response.get_data(as_text=True)


def test_openapi_document_lists_every_route(app):
    spec = app.test_client().get("/api/v1/openapi.json").json
    assert spec["openapi"].startswith("3.")
    assert set(spec["paths"]) == {
        "/api/v1/health", "/api/v1/health/live", "/api/v1/sites", "/api/v1/sites/{site_id}/schools",
        "/api/v1/sites/{site_id}/schools/{school_id}", "/api/v1/sites/{site_id}/settings",
        "/api/v1/sites/{site_id}/rights", "/api/v1/sites/{site_id}/schools/{school_id}/offerings",
        "/api/v1/sites/{site_id}/schools/{school_id}/offerings/{offering_id}", "/api/v1/sites/{site_id}/an",
        "/api/v1/sites/{site_id}/free-places", "/api/v1/jobs", "/api/v1/jobs/{job}/runs", "/api/v1/jobs/runs",
        "/api/v1/jobs/runs/{run_id}", "/api/v1/catalogue/admgr", "/api/v1/catalogue/admgr/{code}",
        "/api/v1/sites/{site_id}/rollover/stale-references", "/api/v1/sites/{site_id}/log", "/api/v1/sites/{site_id}/purge",
        "/api/v1/sites/{site_id}/log/export", "/api/v1/sites/{site_id}/exports/free-places",
        "/api/v1/sites/{site_id}/exports/offerings", "/api/v1/sites/{site_id}/exports/snapshots",
        "/api/v1/sites/{site_id}/ov-comparison", "/api/v1/sites/{site_id}/ov-comparison/export.xlsx",
        "/api/v1/sites/{site_id}/ov-comparison/{school_id}/apply", "/api/v1/sites/{site_id}/school-stats",
        "/api/v1/sites/{site_id}/schools/{school_id}/admins", "/api/v1/sites/{site_id}/schools/{school_id}/admins/{user_id}",
        "/api/v1/mail/outbox", "/api/v1/sites/{site_id}/mail/outbox", "/api/v1/sites/{site_id}/imports/school-admins/template.xlsx",
        "/api/v1/sites/{site_id}/imports/school-admins",
    }
    assert set(spec["paths"]["/api/v1/sites/{site_id}/schools/{school_id}"]) >= {"get", "patch", "delete"}
    assert "lopSignature" in spec["components"]["securitySchemes"]
