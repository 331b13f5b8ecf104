"""Every job the sidecar runs, defined in code with a stable name.

A job is a function ``run(ctx) -> JobResult``. Site-scoped jobs run once per LOP site (each with its
own lock and run row); network jobs once. Options are declared per job, so the API, the command line
and the schedule accept exactly the same ones.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class JobOption:
    name: str
    kind: type  # bool, str, int or dt.date
    help: str
    operator_only: bool = False  # never from a LOP expert
    cli_only: bool = False  # names a local file or URL: the command line only, never through the API


@dataclass(frozen=True)
class JobSpec:
    name: str
    description: str
    run: Callable[..., Any]  # (JobContext) -> JobResult
    default_schedule: str  # crontab, Europe/Brussels; MANUAL: only when asked
    misfire_grace_seconds: int
    site_scoped: bool = False
    expert_may_start: bool = False  # LOP experts may start it for their own site
    expert_may_see: bool = False  # a network job LOP experts see (schedule and next run, not its runs)
    options: tuple[JobOption, ...] = ()
    any_site_state: bool = False  # also for sites that are archived, spam, deleted or gone in WordPress

    @property
    def schedule_variable(self) -> str:
        return "LOP_SCHEDULE_" + self.name.upper().replace("-", "_")

    def schedule(self, env) -> str:
        """The crontab expression in force: ``LOP_SCHEDULE_<JOB>`` or the default."""
        return env.get(self.schedule_variable, "").strip() or self.default_schedule


@dataclass
class JobResult:
    summary: str
    stats: dict = field(default_factory=dict)


class JobRefused(Exception):
    """The job looked and refused to act (bad input, a guard tripped): the run fails with this message."""


HOUR, DAY = 3600, 86400
# The option the scheduler gives each run it fires: the occurrence's time (ISO 8601 with offset). Declared by no
# job, so neither the API nor the command line can set it.
SCHEDULED_FOR = "scheduled_for"
MANUAL = "manual"
_JOBS: dict[str, JobSpec] = {}


def register(spec: JobSpec) -> JobSpec:
    _JOBS[spec.name] = spec
    return spec


def all_jobs() -> dict[str, JobSpec]:
    _load()
    return dict(_JOBS)


def get_job(name: str) -> JobSpec | None:
    _load()
    return _JOBS.get(name)


def _load() -> None:
    # Importing the job modules registers them.
    from . import agodi, mail, maintenance, ov, rollover  # noqa: F401


_KIND_NL = {bool: "true of false", str: "een tekst", int: "een geheel getal", dt.date: "een datum als 2027-07-01"}


def parse_options(spec: JobSpec, given: dict, *, operator: bool, dry_run: bool = False) -> tuple[dict, list[dict]]:
    """Check job options from the API (JSON) against the spec; returns (options, errors). An error that an
    option may not come through the API at all carries ``"code": "option_not_allowed"``: options naming a
    file or URL (the command line only) and dates (only for a dry run)."""
    known = {o.name: o for o in spec.options}
    options, errors = {}, []
    for name, value in given.items():
        option = known.get(name)
        if option is None:
            errors.append({"field": name, "message": f"Taak {spec.name} heeft geen optie {name!r}."})
            continue
        if option.cli_only:
            errors.append({"field": name, "code": "option_not_allowed",
                           "message": "Deze optie kan enkel via de opdrachtregel (lop-sidecar jobs run)."})
            continue
        if option.kind is dt.date and not dry_run:
            errors.append({"field": name, "code": "option_not_allowed",
                           "message": "Een datum kan via de API enkel bij een proefrun (\"dry_run\": true)."})
            continue
        if option.operator_only and not operator:
            errors.append({"field": name, "message": "Enkel operatoren mogen deze optie gebruiken."})
            continue
        if option.kind is bool and isinstance(value, bool) or option.kind is str and isinstance(value, str) \
                or option.kind is int and isinstance(value, int) and not isinstance(value, bool):
            options[name] = value
        elif option.kind is dt.date and isinstance(value, str):
            try:
                options[name] = dt.date.fromisoformat(value).isoformat()
            except ValueError:
                errors.append({"field": name, "message": "Geef een datum als 2027-07-01."})
        else:
            errors.append({"field": name, "message": f"Verwacht: {_KIND_NL[option.kind]}."})
    return options, errors
