"""Test-only fault points: the fault and load suite (tests/faults) kills a process at a named point to
show that nothing is lost or half-applied. Inert unless ``LOP_TEST_KILL_AT`` is set, which only the tests
do: ``LOP_TEST_KILL_AT=rollover.before_commit`` kills the process with SIGKILL the first time it reaches
``fault_point("rollover.before_commit")``; ``LOP_TEST_KILL_AT=agodi.batch:3`` the third time."""

from __future__ import annotations

import os
import signal

KILL_AT_ENV = "LOP_TEST_KILL_AT"


def _armed() -> tuple[str, int] | None:
    value = os.environ.get(KILL_AT_ENV, "")
    if not value:
        return None
    name, _, nth = value.partition(":")
    return name, int(nth or 1)


_ARMED = _armed()
_reached: dict[str, int] = {}


def fault_point(name: str) -> None:
    """Die here, as a power cut or ``kill -9`` would, when the test armed this point."""
    if _ARMED is None or _ARMED[0] != name:
        return
    _reached[name] = _reached.get(name, 0) + 1
    if _reached[name] >= _ARMED[1]:
        os.kill(os.getpid(), signal.SIGKILL)
