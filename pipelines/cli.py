"""The `np6` command: load NP6 data, run the demo, serve the local NP6 sandbox, list resources.

Only argument parsing, output and exit codes live here; the work is in `sources.np6`.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import sys
import traceback
from collections.abc import Sequence
from typing import Any

from pipelines.commands import add_commands, add_destination_args
from sources.np6.errors import NP6ConfigError, find_np6_error

EPILOG_LOAD = """\
every [sources.np6] setting above also comes from the environment (SOURCES__NP6__WINDOW=6h) or
.dlt/config.toml; a flag wins over both. The API key comes only from SOURCES__NP6__API_KEY or
api_key under [sources.np6] in .dlt/secrets.toml, never from the command line.
  DESTINATION__DUCKDB__CREDENTIALS  DuckDB file (default np6_data.duckdb in the working directory)
  DLT_DATA_DIR                 where dlt keeps pipeline state (default ~/.dlt)

exit codes: 0 loaded; 1 NP6, network, destination or a resource failed; 2 settings and
arguments; 3 stopped at the deadline (committed windows stay; run again to continue).

examples:
  np6 load                                   scheduled run: continue from the last window loaded
  np6 load --start 2026-10-01 --end 2026-11-01   backfill October; the schedule is untouched
  np6 load --resources hits,bounces          only these tables
  np6 load --actions 000PE4,000PE5           per-action feeds for these actions only
"""


def _setting_flags(p: argparse.ArgumentParser) -> None:
    """One flag per `[sources.np6]` setting (but the key), typed like the setting; unset = None."""
    from sources.np6.config import SETTINGS_HELP, NP6Settings, setting_env, setting_type

    group = p.add_argument_group("settings ([sources.np6]; flag > environment > .dlt/config.toml)")
    defaults = NP6Settings()
    for name, text in SETTINGS_HELP.items():
        if name == "api_key":
            continue
        flag = "--" + name.replace("_", "-")
        extra = ["--actions"] if name == "action_ids" else []
        shown = f"{text} ({setting_env(name)}; default {getattr(defaults, name)})"
        kind = setting_type(name)
        if kind is bool:
            group.add_argument(flag, *extra, dest=name, action="store_const", const=True, help=shown)
        else:
            group.add_argument(flag, *extra, dest=name, type=kind, metavar=name.upper(), help=shown)


def _add_load(sub: Any) -> None:
    p = sub.add_parser(
        "load",
        help="load NP6 data into DuckDB or another dlt destination",
        description="Load NP6 actions and events. Without --start/--end this is a scheduled "
        "run: it continues from the last window loaded (minus the lookback) up to now minus a "
        "safety margin. With --start/--end it backfills that range and leaves the schedule alone. "
        "Windows are committed in groups, so an interrupted run resumes where it stopped.",
        epilog=EPILOG_LOAD,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--start", help="backfill from this instant (ISO date/time, epoch ms, -7d)")
    p.add_argument("--end", help="backfill up to this instant, exclusive (default: now)")
    add_destination_args(p)
    p.add_argument("--table-format", choices=["delta", "iceberg"],
                   help="filesystem destination: write open tables that merge on id "
                   "(default: plain Parquet files, append only)")
    p.add_argument("-v", "--verbose", action="store_true", help="log every window read")
    p.add_argument("--summary-json", metavar="FILE", help="write the run's summary as JSON to FILE")
    _setting_flags(p)
    p.set_defaults(func=cmd_load)


def _add_resources(sub: Any) -> None:
    p = sub.add_parser("resources", help="list every resource: endpoint, cursor, write disposition")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_resources)


def _add_demo(sub: Any) -> None:
    p = sub.add_parser(
        "demo",
        help="load a month of sandbox data into np6_demo.duckdb and show what landed",
        description="Start the bundled local NP6 sandbox, load a realistic month of data into "
        "np6_demo.duckdb (dataset np6) and print rows per table, the time range and a sample "
        "engagement query. Nothing leaves this machine.",
    )
    p.add_argument("--events-per-day", type=int, default=5000)
    p.add_argument("--actions", type=int, default=20, help="number of actions in the account")
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--duckdb", default="np6_demo.duckdb", help="DuckDB file to write (default np6_demo.duckdb)")
    p.set_defaults(func=cmd_demo)


def _add_sandbox(sub: Any) -> None:
    from sources.np6_sandbox.__main__ import add_arguments

    p = sub.add_parser(
        "sandbox",
        help="serve the local NP6-compatible API on loopback (for trials and tests)",
        description="Serve a deterministic NP6 account on loopback: the endpoints the connector "
        "reads, with the documented payloads, and optional faults (rate limits, 5xx, latency).",
    )
    add_arguments(p)
    p.set_defaults(func=cmd_sandbox)


def _version() -> str:
    """`np6 0.1.0 (dlt 1.31.0, Python 3.11.9)`."""
    from importlib.metadata import version
    from platform import python_version

    return f"np6 {version('np6-connector')} (dlt {version('dlt')}, Python {python_version()})"


def _add_report(sub: Any) -> None:
    p = sub.add_parser(
        "report",
        help="write one self-contained HTML report from the models (after np6 load)",
        description="Build an HTML report from the SQL models the load creates (engagement, "
        "human vs robot opens, top actions and links, bounces, deliverability, open delay). The "
        "file embeds its charts (SVG) and makes no request: open it anywhere, offline.",
    )
    p.add_argument("--out", default="report.html", help="HTML file to write (default report.html)")
    p.add_argument("--since", help="only days from this date on, for the daily figures (YYYY-MM-DD)")
    add_destination_args(p)
    p.set_defaults(func=cmd_report)


def build_parser() -> argparse.ArgumentParser:
    """The `np6` argument parser with its five commands."""
    parser = argparse.ArgumentParser(
        prog="np6",
        description="Load NP6 (Chapsvision CM) email/SMS data into DuckDB or a warehouse.",
    )
    parser.add_argument("--version", action="version", version=_version())
    parser.add_argument("-v", "--verbose", dest="traceback", action="store_true",
                        help="show dlt's log and, on failure, the traceback")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_load(sub)
    _add_demo(sub)
    _add_sandbox(sub)
    _add_resources(sub)
    add_commands(sub)
    _add_report(sub)
    return parser


def setting_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The settings given on the command line (None: not given, config and environment decide)."""
    from sources.np6.config import SETTINGS_HELP

    return {name: getattr(args, name) for name in SETTINGS_HELP if getattr(args, name, None) is not None}


def cmd_load(args: argparse.Namespace) -> int:
    from pipelines.np6_pipeline import load_and_report

    return load_and_report(
        pipeline_name=args.pipeline,
        destination=args.destination,
        dataset=args.dataset,
        table_format=args.table_format,
        verbose=args.verbose,
        range_start=args.start,
        range_end=args.end,
        summary_json=args.summary_json,
        **setting_overrides(args),
    )


def cmd_report(args: argparse.Namespace) -> int:
    from datetime import date

    from pipelines.np6_pipeline import make_pipeline
    from pipelines.report import write_report

    try:
        since = date.fromisoformat(args.since) if args.since else None
    except ValueError:
        raise NP6ConfigError(f"--since {args.since!r} is not a date (YYYY-MM-DD)") from None
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise NP6ConfigError("np6 report draws with matplotlib: pip install 'np6-connector[report]'") from None
    pipeline = make_pipeline(args.pipeline, args.destination, args.dataset)
    try:
        path = write_report(pipeline, args.out, since)
    except Exception as exc:
        if find_np6_error(exc) is not None:
            raise
        raise NP6ConfigError(f"no models to report on in dataset {args.dataset} ({' '.join(str(exc).split())[:200]}); "
                             "run `np6 load` first") from exc
    print(f"Report written to {path}")
    return 0


def cmd_resources(args: argparse.Namespace) -> int:
    from pipelines.operate import resource_rows
    from sources.np6.registry import REGISTRY

    if args.json:
        print(json.dumps(resource_rows(), indent=2))
        return 0
    for r in REGISTRY:
        default = "default" if r.default else "opt-in (name it in --resources)"
        print(f"{r.name}: {default}; {r.write_disposition} on {r.primary_key}")
        print(f"    endpoint  {r.endpoint}")
        print(f"    cursor    {r.cursor}")
        print(f"    rows      {r.description}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from pipelines.demo import run_demo

    return run_demo(
        events_per_day=args.events_per_day,
        actions=args.actions,
        days=args.days,
        seed=args.seed,
        duckdb_path=args.duckdb,
    )


def cmd_sandbox(args: argparse.Namespace) -> int:
    from sources.np6_sandbox.__main__ import serve_from_args

    serve_from_args(args)
    return 0


def _quiet_dlt(verbose: bool) -> None:
    """dlt's defaults for a command-line run, unless the environment sets them: no telemetry
    (nothing leaves the machine but calls to NP6 and the destination; opt in with
    RUNTIME__DLTHUB_TELEMETRY=true), and dlt's own log only with -v (np6 prints one line per
    expected failure instead of dlt's retries and tracebacks).

    Environment variables, because dlt starts telemetry and logging once, the first time any
    setting is read: they must be in place before that, and they win over .dlt/*.toml."""
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    os.environ.setdefault("RUNTIME__LOG_LEVEL", "WARNING" if verbose else "CRITICAL")


def _secrets() -> tuple[str, ...]:
    """The NP6 key as configured (for redaction); none when it cannot be read."""
    import dlt

    try:
        key = dlt.secrets.get("sources.np6.api_key")
    except Exception:  # a broken secrets.toml must not hide the error being reported
        key = None
    return tuple(k.strip() for k in (key, os.environ.get("SOURCES__NP6__API_KEY")) if isinstance(k, str) and k.strip())


def _fail(exc: Exception, verbose: bool) -> int:
    """Print an expected failure as one line (after the traceback with -v); re-raise a bug."""
    from pipelines.failures import explain

    found = explain(exc, _secrets())
    if found is None:
        raise exc
    if verbose:
        traceback.print_exception(exc)
    code, line = found
    print(f"np6: error: {line}", file=sys.stderr)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `np6` console script."""
    args = build_parser().parse_args(argv)
    verbose = args.traceback or getattr(args, "verbose", False)
    _quiet_dlt(verbose)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("np6: interrupted; windows already committed stay loaded, re-run to resume", file=sys.stderr)
        return 130
    except Exception as exc:  # one line for expected failures (pipelines.failures), a traceback for bugs
        return _fail(exc, verbose)


def console() -> int:
    """The `np6` console script: `main`, then leave the interpreter nothing to collect at exit.

    Python's shutdown runs a full garbage collection over every object a load left (dlt's
    schemas, pyarrow, ...): ~0.4 s of a ~5 s idle hourly run. Frozen objects are out of its
    reach; everything that must be written (DuckDB, the state, stdout) is closed by then.
    """
    code = main()
    gc.freeze()
    return code


if __name__ == "__main__":
    sys.exit(console())
