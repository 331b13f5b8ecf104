"""The ``lop-sidecar`` command."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import subprocess
import sys

from sqlalchemy.exc import SQLAlchemyError

from jobs.registry import all_jobs
from rules.school_year import parse_switch_day
from wp_bridge.errors import DataError, describe_database_error
from wp_bridge.migrations import NETWORK_SCHEMA_VERSION, migrate, schema_status
from wp_bridge.site_admin import disable_site, enable_site, orphaned_sites
from wp_bridge.wp_install import create_core_tables, install_network

from .config import ConfigError, load_config
from .runtime import Runtime
from .version import __version__


def _text(value: str) -> str:
    """A help text argparse may format: it runs ``%`` formatting on them ("85% of the codes" crashed
    ``--help``), so a literal ``%`` is doubled. For texts that come from elsewhere (job specs)."""
    return value.replace("%", "%%")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lop-sidecar", description="The LOP sidecar beside the WordPress sites of the LOPs.")
    parser.add_argument("--version", action="version", version=f"lop-sidecar {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("migrate", help="create or upgrade the sidecar's tables (network and every LOP site)",
                       description="Create or upgrade the sidecar's own tables; idempotent. WordPress core tables are never touched, "
                                   "unless --with-wordpress-core is given (demo and test databases only).")
    p.add_argument("--with-wordpress-core", action="store_true",
                   help="also create WordPress's core tables (multisite included) — for demo and test databases only")

    p = sub.add_parser("serve", help="serve the API under gunicorn", description="Serve the API under gunicorn.")
    p.add_argument("--bind", default="127.0.0.1:8000", help="address to listen on (default 127.0.0.1:8000)")
    p.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (default 2)")
    p.add_argument("--threads", type=int, default=4,
                   help="threads per worker (default 4: threads overlap the waits on the database)")

    p = sub.add_parser("demo", help="create a seeded demo network on SQLite and serve it",
                       description="Create a fictitious WordPress network with two LOP sites in an SQLite file "
                                   "(recreated on every run), print ready-to-paste commands and serve the API.")
    p.add_argument("--db", default="lop-sidecar-demo.sqlite", help="SQLite file (default ./lop-sidecar-demo.sqlite)")
    p.add_argument("--bind", default="127.0.0.1:8000", help="address to listen on (default 127.0.0.1:8000)")
    p.add_argument("--no-serve", action="store_true", help="only create the database and print the commands")
    p.add_argument("--no-scheduler", action="store_true", help="do not start a scheduler process beside the API")

    p = sub.add_parser("demo-fill", help="fill existing, empty LOP sites with the demo data",
                       description="Fill LOP sites of LOP_DATABASE_URL (enabled, without schools) with the demo's "
                                   "data: the demo catalogue (codes it lacks), rights settings, ten schools per site "
                                   "with offerings for the current and next school year and a school admin per school "
                                   "(directie.SITE.N, WordPress users without a password). The same data as "
                                   "`lop-sidecar demo`, for a network WordPress installed (wp-plugin/dev/up.sh).")
    p.add_argument("sites", nargs="+", metavar="SITE=LEVEL",
                   help="a site ID and its level, BaO (primary: BaO and BuBaO schools) or SO (secondary: SO and BuSO), "
                        "e.g. 2=BaO 3=SO")

    p = sub.add_parser("sites", help="list WordPress sites; enable or disable them as LOP sites",
                       description="Which WordPress sites are LOP sites.")
    site_sub = p.add_subparsers(dest="sites_command", required=True, metavar="ACTION")
    site_sub.add_parser("list", help="every site with its LOP status", description="Every site of the install.")
    for action, help_text in (("enable", "make a site a LOP site (creates its tables)"),
                              ("disable", "stop treating a site as a LOP site (its data stays)"),
                              ("purge", "archive the log of a site WordPress deleted, then drop its LOP tables")):
        q = site_sub.add_parser(action, help=help_text, description=help_text)
        q.add_argument("site_id", type=int, metavar="ID")

    p = sub.add_parser("scheduler", help="run the job scheduler (its own process)",
                       description="Run the scheduled jobs (LOP_SCHEDULE_<JOB> cron expressions, Europe/Brussels) and "
                                   "the runs queued through the API, until SIGTERM or SIGINT.")

    p = sub.add_parser("jobs", help="list jobs or run one now", description="The sidecar's jobs.")
    jobs_sub = p.add_subparsers(dest="jobs_command", required=True, metavar="ACTION")
    jobs_sub.add_parser("list", help="every job with its schedule", description="Every job with its schedule.")
    q = jobs_sub.add_parser("run", help="run a job now, in this process",
                            description="Run a job now through the same runner as the scheduler; prints its summary "
                                        "line; exits 1 when the run failed or was skipped.")
    run_sub = q.add_subparsers(dest="job", required=True, metavar="JOB")
    for name, spec in sorted(all_jobs().items()):
        r = run_sub.add_parser(name, help=_text(spec.description), description=_text(spec.description))
        if spec.site_scoped:
            r.add_argument("--site", type=int, default=None, help="one site (default: every enabled LOP site)")
        r.add_argument("--dry-run", action="store_true", help="report what a real run would do, change nothing")
        for option in spec.options:
            flag = "--" + option.name.replace("_", "-")
            if option.kind is bool:
                r.add_argument(flag, dest=option.name, action="store_true", help=_text(option.help))
            else:
                r.add_argument(flag, dest=option.name, default=None, help=_text(option.help),
                               type=str if option.kind is not int else int)

    p = sub.add_parser("log", help="operations on a site's audit log", description="The audit log.")
    log_sub = p.add_subparsers(dest="log_command", required=True, metavar="ACTION")
    q = log_sub.add_parser("prune", help="archive to a file, then delete log rows before a date",
                           description="Write every log row of a site before DATE (Brussels midnight) to a gzipped "
                                       "CSV archive, and only then delete those rows. There is no retention by "
                                       "default: the log is the LOP's record.")
    q.add_argument("--site", type=int, required=True)
    q.add_argument("--before", required=True, metavar="YYYY-MM-DD")
    q.add_argument("--archive", default=None, metavar="PATH",
                   help="archive file (default ./logbestand-site{N}-voor-{DATE}.csv.gz); must not exist yet")

    p = sub.add_parser("call", help="sign and send one API request",
                       description="Sign a request with LOP_SHARED_SECRET and send it to LOP_API_URL "
                                   "(default http://127.0.0.1:8000); prints the JSON response, exits 1 on 4xx/5xx.")
    p.add_argument("method", metavar="METHOD")
    p.add_argument("path", metavar="PATH", help="path and query string, e.g. /api/v1/sites")
    p.add_argument("--user", type=int, default=None,
                   help="WordPress user ID acting (default $LOP_CALL_USER, else 0 = the site itself)")
    p.add_argument("--switched-from", type=int, default=None, help="the original user's ID while switched")
    p.add_argument("--data", default=None, help="JSON body, or @FILE to read it from a file")
    p.add_argument("--file", action="append", default=None, metavar="FIELD=@PATH",
                   help="upload PATH as multipart/form-data field FIELD (repeatable; not with --data), "
                        "e.g. --file file=@admins.xlsx")
    p.add_argument("--output", default=None, help="write a non-JSON response body to this file")
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        status = _main(argv)
        sys.stdout.flush()  # inside the try: a reader that went away (``| head``) is met here, not at exit
        return status
    except BrokenPipeError:
        # The reader closed the pipe: stop quietly. Python would report the failed flush at exit, so
        # stdout now points at /dev/null (as the Python documentation on SIGPIPE advises).
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


def _main(argv: list[str] | None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _COMMANDS[args.command](args)
    except ConfigError as exc:
        print(f"lop-sidecar: configuration error: {exc}", file=sys.stderr)
        return 2
    except DataError as exc:
        print(f"lop-sidecar: {exc.detail}", file=sys.stderr)
        return 1
    except SQLAlchemyError as exc:
        print(f"lop-sidecar: database error: {describe_database_error(exc)} (check LOP_DATABASE_URL and the database)",
              file=sys.stderr)
        return 1


def cmd_migrate(args) -> int:
    rt = Runtime.from_config(load_config())
    if args.with_wordpress_core:
        with rt.engine.begin() as conn:
            install_network(conn, rt.network)
            create_core_tables(conn, rt.network, rt.network.site_ids(conn))
    report = migrate(rt.engine, rt.network)
    if not report.changed:
        print(f"schema up to date (network version {NETWORK_SCHEMA_VERSION}): nothing to do")
    for line in report.applied:
        print(f"applied {line}")
    with rt.engine.connect() as conn:
        orphaned = orphaned_sites(conn, rt.network)
    for site_id in orphaned:
        print(f"site {site_id}: WordPress deleted this site but its LOP tables remain; "
              f"`lop-sidecar sites purge {site_id}` archives its log and drops them")
    return 0


def cmd_serve(args) -> int:
    from .server import configure_logging, serve

    config = load_config(require_secret=True)
    configure_logging()
    rt = Runtime.from_config(config)
    try:
        with rt.engine.connect() as conn:
            version = schema_status(conn, rt.network)
    except SQLAlchemyError:
        version = None
        print("lop-sidecar: the database does not answer yet; serving anyway (health reports 503)", file=sys.stderr)
    if version is not None and version < NETWORK_SCHEMA_VERSION:
        print(f"lop-sidecar: database schema version {version} is older than {NETWORK_SCHEMA_VERSION}: run lop-sidecar migrate",
              file=sys.stderr)
        return 1
    rt.engine.dispose()  # workers open their own connections after the fork

    from . import create_app

    serve(lambda: create_app(config), bind=args.bind, workers=args.workers, threads=args.threads)
    return 0


def cmd_demo(args) -> int:
    from .demo import DEMO_SECRET, seed_demo

    path = os.path.abspath(args.db)
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    env = {**os.environ, "LOP_DATABASE_URL": f"sqlite:///{path}", "LOP_SHARED_SECRET": DEMO_SECRET}
    env.pop("LOP_WP_TABLE_PREFIX", None)
    config = load_config(env, require_secret=True)
    rt = Runtime.from_config(config)
    summary = seed_demo(rt.engine, rt.network, rt.today())
    rt.engine.dispose()

    host, _, port = args.bind.rpartition(":")
    url = f"http://{host or '127.0.0.1'}:{port}"
    admin_user, admin_site, admin_school = summary.school_admin_example
    print(f"Demo network in {path}")
    for site_id, name, kind in summary.sites:
        print(f"  site {site_id}: {name} ({kind})")
    print(f"  {summary.schools} schools, {summary.offerings} offerings (current and next school year)")
    for user_id, login, what in summary.users:
        print(f"  user {user_id}: {login} — {what}")
    print("\nIn another terminal, paste:")
    print(f"  export LOP_SHARED_SECRET={DEMO_SECRET} LOP_API_URL={url} LOP_CALL_USER=1")
    print("  lop-sidecar call GET /api/v1/sites")
    print("  lop-sidecar call GET /api/v1/sites/2/schools")
    print(f"  lop-sidecar call GET /api/v1/sites/{admin_site}/schools --user {admin_user}    # as a school admin")
    start = summary.free_registration_start
    after = (start + dt.timedelta(minutes=1)).astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%MZ")
    print(f"  # free registrations start {start:%Y-%m-%d %H:%M} (Brussels): the school admin's rights for next year change then")
    print(f"  lop-sidecar call GET '/api/v1/sites/{admin_site}/rights?school={admin_school}&year=next' --user {admin_user}")
    print(f"  lop-sidecar call GET '/api/v1/sites/{admin_site}/rights?school={admin_school}&year=next&at={after}' --user {admin_user}")
    print(f"  lop-sidecar call GET '/api/v1/sites/{admin_site}/schools/{admin_school}/offerings?year=next' --user {admin_user}")
    print("  lop-sidecar call GET '/api/v1/sites/3/free-places?year=current' --user 0    # the public table")
    print("  lop-sidecar call POST /api/v1/sites/2/schools --data "
          "'{\"name\": \"Basisschool De Nieuwe Wereld\", \"type\": \"BaO\", "
          "\"vestigingen\": [{\"instellingsnummer\": 99999, \"vestigingsnummer\": 1}]}'")
    print(f"  curl -s {url}/api/v1/health")
    if args.no_serve:
        return 0
    print("  lop-sidecar call GET /api/v1/jobs    # the scheduler runs beside the demo; POST …/jobs/JOB/runs queues a run")
    print(f"\nServing on {url} (Ctrl-C stops)\n", flush=True)
    from . import create_app
    from .server import configure_logging, serve

    configure_logging()
    scheduler = None
    if not args.no_scheduler:
        scheduler = subprocess.Popen([sys.executable, "-m", "service.cli", "scheduler"], env=env)
    try:
        serve(lambda: create_app(config), bind=args.bind, workers=2, threads=4)
    finally:
        if scheduler is not None:
            scheduler.terminate()
            scheduler.wait(timeout=60)
    return 0


def cmd_demo_fill(args) -> int:
    from .demo import DemoDataError, fill_lop_sites

    levels = {}
    for item in args.sites:
        site, _, level = item.partition("=")
        if not site.isdigit() or level not in ("BaO", "SO"):
            print(f"lop-sidecar: {item!r}: expected SITE=BaO or SITE=SO, e.g. 2=BaO", file=sys.stderr)
            return 2
        levels[int(site)] = level
    rt = Runtime.from_config(load_config())
    try:
        summary = fill_lop_sites(rt.engine, rt.network, rt.today(), levels)
    except DemoDataError as exc:
        print(f"lop-sidecar: {exc}", file=sys.stderr)
        return 1
    print(f"filled sites {', '.join(map(str, levels))}: {summary.schools} schools, {summary.offerings} offerings, "
          f"{summary.schools} school admins (directie.SITE.N)")
    return 0


def cmd_sites(args) -> int:
    rt = Runtime.from_config(load_config())
    if args.sites_command == "enable":
        report = enable_site(rt.engine, rt.network, args.site_id, rt.today(),
                             parse_switch_day(rt.config.school_year_switch))
        print("\n".join(report.applied) or f"site {args.site_id} was already an up-to-date LOP site: nothing to do")
        return 0
    if args.sites_command == "purge":
        from jobs.runner import run_now

        run = run_now(rt, "site-purge", site_id=args.site_id, trigger="cli")
        if run["status"] != "succeeded":
            print(f"lop-sidecar: site-purge {run['status']}: {run['error']}", file=sys.stderr)
            return 1
        print(run["summary"])
        return 0
    if args.sites_command == "disable":
        changed = disable_site(rt.engine, rt.network, args.site_id)
        print(f"site {args.site_id} disabled (its data is kept)" if changed else f"site {args.site_id} was not enabled: nothing to do")
        return 0
    with rt.engine.connect() as conn:
        if not rt.network.has_core_tables(conn):
            print(f"lop-sidecar: no WordPress tables with prefix {rt.config.table_prefix!r} in this database", file=sys.stderr)
            return 1
        sites = rt.network.list_sites(conn)
    print(f"{'ID':>4}  {'LOP':<3}  {'SCHOOL YEAR':<11}  {'SCHEMA':<6}  {'STATUS':<8}  NAME — URL")
    for site in sites:
        print(f"{site.id:>4}  {'yes' if site.enabled else 'no':<3}  {site.current_school_year or '-':<11}  "
              f"{site.schema_version or '-':<6}  {site.status:<8}  {site.name} — {site.url}")
    return 0


def cmd_scheduler(args) -> int:
    from jobs.scheduler import ScheduleError, SchedulerProcess, load_schedules

    from .server import configure_logging

    config = load_config()
    try:
        triggers = load_schedules(os.environ, config.tz)
    except ScheduleError as exc:
        raise ConfigError(exc.variable, str(exc).split(": ", 1)[1]) from None
    configure_logging()
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # it logs every poll at INFO
    SchedulerProcess(Runtime.from_config(config), triggers).run()
    return 0


def cmd_jobs(args) -> int:
    from jobs.runner import run_now

    if args.jobs_command == "list":
        for name, spec in sorted(all_jobs().items()):
            print(f"{name:<22} {spec.schedule(os.environ):<16} {spec.schedule_variable:<34} {spec.description}")
        return 0
    rt = Runtime.from_config(load_config())
    spec = all_jobs()[args.job]
    options = {o.name: getattr(args, o.name) for o in spec.options if getattr(args, o.name) not in (None, False)}
    if spec.site_scoped and args.site is None:
        with rt.engine.connect() as conn:
            sites = [site.id for site in rt.network.list_sites(conn) if site.enabled]
    else:
        sites = [getattr(args, "site", None)]
    status = 0
    for site_id in sites:
        run = run_now(rt, args.job, site_id=site_id, trigger="cli", dry_run=args.dry_run, options=options)
        prefix = f"site {site_id}: " if site_id is not None else ""
        if run["status"] == "succeeded":
            print(prefix + (run["summary"] or "done"))
        else:
            print(f"lop-sidecar: {prefix}{args.job} {run['status']}: {run['error']}", file=sys.stderr)
            status = 1
    return status


def cmd_log(args) -> int:
    from wp_bridge.audit_read import delete_archived
    from wp_bridge.faults import fault_point
    from wp_bridge.tables import site_tables

    from .log_archive import write_log_archive

    rt = Runtime.from_config(load_config())
    try:
        before = dt.date.fromisoformat(args.before)
    except ValueError:
        print(f"lop-sidecar: --before must be a date (YYYY-MM-DD), got {args.before!r}", file=sys.stderr)
        return 2
    with rt.engine.connect() as conn:
        site = rt.network.get_site(conn, args.site)
    if site is None or not site.enabled:
        print(f"lop-sidecar: site {args.site} is not a LOP site", file=sys.stderr)
        return 1
    until = dt.datetime.combine(before, dt.time(), rt.config.tz).astimezone(dt.timezone.utc).replace(tzinfo=None)
    path = args.archive or f"logbestand-site{args.site}-voor-{before.isoformat()}.csv.gz"
    if os.path.exists(path):
        print(f"lop-sidecar: {path} exists already; choose another --archive", file=sys.stderr)
        return 1
    tables = site_tables(site.prefix)
    try:
        archived, max_id = write_log_archive(rt, tables, path, until)
    except OSError as exc:  # a full disk, a read-only or vanished directory: the writer removed its partial file
        print(f"lop-sidecar: could not write the archive {path}: {exc.strerror or exc}; "
              "nothing was deleted from the log", file=sys.stderr)
        return 1
    fault_point("log_prune.archived")
    if archived == 0:
        print(f"no log rows of site {args.site} before {before}: nothing archived or deleted")
        return 0
    deleted = delete_archived(rt.engine, tables, until, max_id)
    print(f"archived {archived} log rows of site {args.site} before {before} to {path}; deleted {deleted}")
    return 0


def cmd_call(args) -> int:
    from .call import call

    config = load_config(require_secret=True)
    api_url = os.environ.get("LOP_API_URL", "").strip() or "http://127.0.0.1:8000"
    user = args.user
    if user is None:
        default_user = os.environ.get("LOP_CALL_USER", "0").strip() or "0"
        if not default_user.isdigit():
            raise ConfigError("LOP_CALL_USER", "a WordPress user ID (digits)")
        user = int(default_user)
    return call(api_url, config.shared_secrets[0], args.method, args.path, user=user,
                switched_from=args.switched_from, data=args.data, output=args.output, files=args.file)


_COMMANDS = {"migrate": cmd_migrate, "serve": cmd_serve, "demo": cmd_demo, "demo-fill": cmd_demo_fill, "sites": cmd_sites, "call": cmd_call,
             "scheduler": cmd_scheduler, "jobs": cmd_jobs, "log": cmd_log}

if __name__ == "__main__":
    sys.exit(main())
