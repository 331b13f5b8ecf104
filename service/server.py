"""Serving the API under gunicorn (never Flask's development server)."""

from __future__ import annotations

import logging
import sys

from gunicorn.app.base import BaseApplication

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def configure_logging(level: int = logging.INFO) -> None:
    logging.basicConfig(stream=sys.stderr, level=level, format=LOG_FORMAT)


class _Gunicorn(BaseApplication):
    def __init__(self, app_factory, options: dict):
        self._app_factory = app_factory
        self._options = options
        super().__init__()

    def load_config(self):
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self):
        # Each worker builds its own app (and so its own connection pool) after the fork.
        configure_logging()
        return self._app_factory()


def serve(app_factory, *, bind: str, workers: int, threads: int = 1, timeout: int = 60) -> None:
    _Gunicorn(app_factory, {
        "bind": bind,
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread" if threads > 1 else "sync",
        "timeout": timeout,
        "graceful_timeout": 30,
        "accesslog": None,  # the app writes its own access lines, without secrets
        "errorlog": "-",
        "loglevel": "info",
        "proc_name": "lop-sidecar",
        "forwarded_allow_ips": "127.0.0.1",
    }).run()
