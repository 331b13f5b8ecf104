"""A local stand-in for the Onderwijs Vlaanderen API (domain.md, "Outside systems"), for the end-to-end tests.

It serves the two listings the sidecar's ov-sync reads, shaped exactly like the real feed (and like the
``responses`` fakes of tests/test_ov.py): ``x-api-key`` required (401 without), ``page`` (1-based) and ``size``
(at most 5000), ``{"meta": {"total_elements", "total_pages", "number", "last"}, "content": [...]}``, an unknown
``filter_*`` parameter is HTTP 400, ``number=`` is ignored. A test sets the records (``FakeOv.offerings``,
``FakeOv.catalogue``) before it starts the sync; every request is recorded in ``FakeOv.requests``.

    fake = FakeOv.start()        # a daemon thread on 127.0.0.1, a free port
    fake.url, fake.key           # for LOP_OV_API_URL and LOP_OV_API_KEY
"""

from __future__ import annotations

import json
import math
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from jobs.ov_client import CATALOGUE_PATH, OFFERING_PATH

MAX_SIZE = 5000


def offering(inst: int, vest: int, code: int, schooljaar: int, description: str = "Opleiding") -> dict:
    """One record of …/ingerichteadministratievegroep (one programme at one location in one school year)."""
    return {"instelling_nummer": inst, "instellingslocatie_vestigingsnummer": vest, "administratievegroep_code": code,
            "administratievegroep_omschrijving": description, "schooljaar": schooljaar, "inschrijvingen": True,
            "financierbaar": True, "begindatum": "2019-09-01", "einddatum": None}


def catalogue_entry(code: int, graad: int | None, leerjaar: int | None, vorm: str | None, schooljaar: int) -> dict:
    """One record of …/administratievegroep (graad and onderwijsvorm are missing on some real records)."""
    entry = {"administratievegroep_code": code,
             "administratievegroep_leerjaar": {"code": str(leerjaar)} if leerjaar is not None else None,
             "administratievegroep_finaliteit": {"code": "D"},
             "administratievegroep_domein": {"code": "X", "omschrijving": "STEM"},
             "structuuronderdeel_nummer": 4321, "schooljaar": schooljaar}
    if graad is not None:
        entry["administratievegroep_graad"] = {"code": str(graad), "omschrijving": f"{graad}de graad"}
    if vorm is not None:
        entry["administratievegroep_onderwijsvorm"] = {"code": vorm}
    return entry


class FakeOv:
    def __init__(self) -> None:
        self.key = "e2e-" + secrets.token_urlsafe(12)
        self.offerings: list[dict] = []
        self.catalogue: list[dict] = []
        self.requests: list[dict] = []
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @classmethod
    def start(cls) -> "FakeOv":
        fake = cls()
        fake._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
        fake._server.daemon_threads = True
        threading.Thread(target=fake._server.serve_forever, name="fake-ov", daemon=True).start()
        return fake

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def listing(self, path: str) -> list[dict] | None:
        return {OFFERING_PATH: self.offerings, CATALOGUE_PATH: self.catalogue}.get(path)


def _handler(fake: FakeOv):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # quiet: the test's output is about the test
            pass

        def _send(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            parts = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            fake.requests.append({"path": parts.path, "query": query, "key": self.headers.get("x-api-key")})
            if self.headers.get("x-api-key") != fake.key:
                return self._send(401, {"message": "Unauthorized"})
            records = fake.listing(parts.path)
            if records is None:
                return self._send(404, {"message": "Not Found"})
            unknown = [k for k in query if k.startswith("filter_")]
            if unknown:
                return self._send(400, {"message": f"unknown filter {unknown[0]}"})
            try:
                page = int(query.get("page", "1"))
                size = int(query.get("size", "20"))
            except ValueError:
                return self._send(400, {"message": "page and size are numbers"})
            if page < 1 or not 1 <= size <= MAX_SIZE:
                return self._send(400, {"message": "page from 1, size 1-5000"})
            total_pages = max(1, math.ceil(len(records) / size))
            content = records[(page - 1) * size:page * size]
            self._send(200, {"meta": {"total_elements": len(records), "total_pages": total_pages, "number": page,
                                      "last": page >= total_pages}, "content": content})

    return Handler
