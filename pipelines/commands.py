"""The operator's commands of `np6`: `state`, `state reset`, `check`, `verify`.

Argument parsing and output only; the work is in `pipelines.operate`.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from sources.np6.settings import DATASET_NAME, PIPELINE_NAME


def add_destination_args(p: argparse.ArgumentParser) -> None:
    """`--destination`, `--dataset`, `--pipeline`: which warehouse and which dlt pipeline."""
    p.add_argument("--destination", default="duckdb", help="any dlt destination (default duckdb)")
    p.add_argument("--dataset", default=DATASET_NAME, help=f"dataset/schema (default {DATASET_NAME})")
    p.add_argument("--pipeline", default=PIPELINE_NAME, help=f"pipeline name (default {PIPELINE_NAME})")


def add_commands(sub: Any) -> None:
    """Add `state`, `check` and `verify` to the `np6` subcommands."""
    state = sub.add_parser("state", help="show the cursors per resource; `state reset RESOURCE` forgets one",
                           description="Show where each resource's scheduled reads have loaded up to, "
                           "per-action cursors and backfills in progress. `np6 state reset hits` forgets the "
                           "cursor of hits (its table stays): the next np6 load reads it again from start_date.")
    state.add_argument("action", nargs="?", choices=["show", "reset"], default="show")
    state.add_argument("resources", nargs="*", metavar="RESOURCE", help="with reset: the resources to forget")
    state.add_argument("--json", action="store_true", help="print JSON")
    add_destination_args(state)
    state.set_defaults(func=cmd_state)

    check = sub.add_parser("check", help="check the key and base URL, and which resources the key can read",
                           description="One small request per resource (a one-minute window, or the list "
                           "itself): ok, or the status NP6 answered. Exit 0 when the key is accepted.")
    check.add_argument("--json", action="store_true", help="print JSON")
    check.set_defaults(func=cmd_check)

    verify = sub.add_parser("verify", help="compare the warehouse's event ids with NP6, window by window",
                            description="Re-read NP6's event feed over [--start, --end) window by window and "
                            "compare the ids with the warehouse (action events; push events come from another "
                            "feed). Exit 0 when every window matches, 1 naming each window that differs. "
                            "--repair loads exactly those windows again.")
    verify.add_argument("--start", required=True, help="from this instant (ISO date/time, epoch ms, -7d)")
    verify.add_argument("--end", help="up to this instant, exclusive (default: now)")
    verify.add_argument("--resources", help="event tables to compare (default: every event table)")
    verify.add_argument("--window", help="window size (default from config)")
    verify.add_argument("--repair", action="store_true", help="reload the windows that differ")
    add_destination_args(verify)
    verify.set_defaults(func=cmd_verify)


def _pipeline(args: argparse.Namespace) -> Any:
    from pipelines.np6_pipeline import make_pipeline

    return make_pipeline(args.pipeline, args.destination, args.dataset)


def cmd_state(args: argparse.Namespace) -> int:
    from pipelines.operate import cursor_rows, reset_cursors, source_state
    from sources.np6.errors import NP6ConfigError

    pipeline = _pipeline(args)
    if args.action == "reset":
        if not args.resources:
            raise NP6ConfigError("np6 state reset: name the resources to forget, e.g. np6 state reset hits")
        done = reset_cursors(pipeline, args.resources)
        print(f"cursors forgotten: {', '.join(done)}; the next np6 load reads them again from start_date")
        return 0
    rows = cursor_rows(source_state(pipeline))
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print(f"pipeline {args.pipeline}: no cursor yet (no load has committed a window)")
    for row in rows:
        backfills = "; ".join(f"{k} done to {v}" for k, v in row["backfills"].items())
        actions = ", ".join(f"{a} {c}" for a, c in sorted(row["actions"].items()))
        print(f"{row['resource']:<28}{row['cursor'] or '-':<26}"
              f"{'actions: ' + actions if actions else ''}{'  backfills: ' + backfills if backfills else ''}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from pipelines.operate import check
    from sources.np6 import open_run

    run = open_run(resources=None)
    try:
        rows = check(run)
    finally:
        run.close()
    if args.json:
        print(json.dumps({"base_url": run.plan.base_url, "key": "accepted", "resources": rows}, indent=2))
        return 0
    print(f"base URL {run.plan.base_url}: reachable; API key: accepted")
    for row in rows:
        print(f"  {row['resource']:<28}{row['status']:<12}{row['endpoint']}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    import sys

    from pipelines.operate import repair, verify
    from sources.np6 import open_run
    from sources.np6.events import EVENT_TABLES

    settings: dict[str, Any] = {"resources": args.resources or ",".join(EVENT_TABLES)}
    if args.window:
        settings["window"] = args.window
    pipeline = _pipeline(args)

    def differing() -> list[Any]:
        run = open_run(range_start=args.start, range_end=args.end, **settings)
        try:
            return verify(pipeline, run)
        finally:
            run.close()

    diffs = differing()
    for diff in diffs:
        print(f"differs {diff.line()}")
    if diffs and args.repair:
        repair(pipeline, diffs, settings)
        diffs = differing()
        print(f"reloaded the differing windows; {len(diffs)} still differ")
    if diffs:
        print(f"np6: error: {len(diffs)} window(s) differ from NP6 (first {diffs[0].window})"
              f"{'' if args.repair else '; run again with --repair to reload them'}", file=sys.stderr)
        return 1
    print(f"every window of [{args.start}, {args.end or 'now'}) matches NP6")
    return 0
