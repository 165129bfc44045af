"""The `np6` command: load NP6 data, run the demo, serve the local NP6 sandbox, list resources.

Only argument parsing, output and exit codes live here; the work is in `sources.np6`.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

from sources.np6.errors import NP6ConfigError, find_np6_error
from sources.np6.settings import (
    DATASET_NAME,
    DEFAULT_COMMIT_WINDOWS,
    PIPELINE_NAME,
    RESOURCES,
)

EPILOG_LOAD = """\
configuration (the dlt way; environment variables win over .dlt/*.toml):
  SOURCES__NP6__API_KEY        your NP6 X-Key (or api_key in .dlt/secrets.toml [sources.np6])
  SOURCES__NP6__BASE_URL       API root, default https://api-cm.np6.com
  SOURCES__NP6__START_DATE     where the first run starts (default -30d)
  SOURCES__NP6__WINDOW         window size, one request per window (default 1d)
  SOURCES__NP6__LOOKBACK       re-read before the cursor for late events (default 1h)
  DESTINATION__DUCKDB__CREDENTIALS  DuckDB file (default np6_data.duckdb in the working directory)
  DLT_DATA_DIR                 where dlt keeps pipeline state (default ~/.dlt)

examples:
  np6 load                                   scheduled run: continue from the last window loaded
  np6 load --start 2026-10-01 --end 2026-11-01   backfill October; the schedule is untouched
  np6 load --resources hits,bounces          only these tables
  np6 load --actions 000PE4,000PE5           per-action feeds for these actions only
"""


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
    p.add_argument("--resources", help="comma-separated resources (see `np6 resources`)")
    p.add_argument("--actions", help="comma-separated action ids: read their per-action feeds")
    p.add_argument("--window", help="window size, e.g. 1d, 6h (default from config, 1d)")
    p.add_argument("--commit-every", type=int, default=DEFAULT_COMMIT_WINDOWS, metavar="N",
                   help=f"windows per commit group (default {DEFAULT_COMMIT_WINDOWS})")
    p.add_argument("--destination", default="duckdb", help="any dlt destination (default duckdb)")
    p.add_argument("--table-format", choices=["delta", "iceberg"],
                   help="filesystem destination: write open tables that merge on id "
                   "(default: plain Parquet files, append only)")
    p.add_argument("--dataset", default=DATASET_NAME, help=f"dataset/schema (default {DATASET_NAME})")
    p.add_argument("--pipeline", default=PIPELINE_NAME, help=f"pipeline name (default {PIPELINE_NAME})")
    p.add_argument("-v", "--verbose", action="store_true", help="log every window read")
    p.set_defaults(func=cmd_load)


def _add_resources(sub: Any) -> None:
    p = sub.add_parser("resources", help="list every resource: endpoint, cursor, write disposition")
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
    p.add_argument("--destination", default="duckdb", help="the dlt destination loaded (default duckdb)")
    p.add_argument("--dataset", default=DATASET_NAME, help=f"dataset/schema (default {DATASET_NAME})")
    p.add_argument("--pipeline", default=PIPELINE_NAME, help=f"pipeline name (default {PIPELINE_NAME})")
    p.set_defaults(func=cmd_report)


def build_parser() -> argparse.ArgumentParser:
    """The `np6` argument parser with its five commands."""
    parser = argparse.ArgumentParser(
        prog="np6",
        description="Load NP6 (Chapsvision CM) email/SMS data into DuckDB or a warehouse.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_load(sub)
    _add_demo(sub)
    _add_sandbox(sub)
    _add_resources(sub)
    _add_report(sub)
    return parser


def _split(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def check_load_args(args: argparse.Namespace) -> None:
    """Fail fast, before any pipeline or request exists, on arguments that cannot work."""
    from sources.np6 import select_resources
    from sources.np6.windows import parse_duration, parse_instant

    start = parse_instant(args.start, setting="--start") if args.start else None
    end = parse_instant(args.end, setting="--end") if args.end else None
    if start is not None and end is not None and end <= start:
        raise NP6ConfigError(f"--end {args.end} is not after --start {args.start}")
    if args.window:
        parse_duration(args.window, setting="--window")
    if args.commit_every < 1:
        raise NP6ConfigError("--commit-every must be at least 1")
    select_resources(args.resources)


def cmd_load(args: argparse.Namespace) -> int:
    from pipelines.np6_pipeline import load_and_report

    check_load_args(args)

    source_args: dict[str, Any] = {
        "range_start": args.start,
        "range_end": args.end,
        "action_ids": _split(args.actions),
    }
    if args.window:
        source_args["window"] = args.window
    return load_and_report(
        pipeline_name=args.pipeline,
        destination=args.destination,
        dataset=args.dataset,
        resources=_split(args.resources),
        commit_windows=args.commit_every,
        table_format=args.table_format,
        verbose=args.verbose,
        **source_args,
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
    for r in RESOURCES:
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


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `np6` console script."""
    os.environ.setdefault("RUNTIME__LOG_LEVEL", "WARNING")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("np6: interrupted; windows already committed stay loaded, re-run to resume", file=sys.stderr)
        return 130
    except Exception as exc:  # one line for expected failures, a traceback for bugs
        root = find_np6_error(exc)
        if root is not None:
            print(f"np6: error: {root}", file=sys.stderr)
            return 2 if isinstance(root, NP6ConfigError) else 1
        raise


if __name__ == "__main__":
    sys.exit(main())
