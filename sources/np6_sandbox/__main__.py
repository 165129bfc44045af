"""Run the sandbox NP6 API in the foreground.

    python -m sources.np6_sandbox --port 8080 --seed 42 --events-per-day 5000 --start 2026-10-01

`add_arguments`, `spec_and_faults_from_args` and `serve_from_args` let another command line (the
project's `np6 sandbox`) offer the same options.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from .data import Account, AccountSpec
from .faults import Faults
from .server import SandboxServer

DEFAULT_KEY = AccountSpec.api_key


# Options by group: (flag, argparse keywords). Defaults are shown in --help.
_OPTIONS: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "server": [
        ("--host", {"default": "127.0.0.1", "help": "interface to listen on"}),
        ("--port", {"type": int, "default": 8080, "help": "port, 0 for any free one"}),
        ("--cache-mb", {"type": float, "default": 512,
                        "help": "memory for recent hours; a window or two should fit"}),
        ("--log-requests", {"action": "store_true", "help": "print one line per request to stderr"}),
        ("--no-read-ahead", {"action": "store_true",
                             "help": "do not prepare the hours after each window served"}),
    ],
    "account": [
        ("--seed", {"type": int, "default": AccountSpec.seed, "help": "data seed"}),
        ("--actions", {"type": int, "default": AccountSpec.actions, "help": "number of actions"}),
        ("--events-per-day", {"type": int, "default": AccountSpec.events_per_day,
                              "help": "average events per day"}),
        ("--start", {"help": "first instant of events, ISO date or datetime, UTC "
                             "(default: 30 days before today)"}),
        ("--days", {"type": int, "default": AccountSpec.days, "help": "days of events"}),
        ("--api-key", {"default": DEFAULT_KEY, "help": "the X-Key clients must send"}),
    ],
    "faults": [
        ("--rate-limit", {"type": int, "help": "max API requests per --rate-window seconds, then 429"}),
        ("--rate-window", {"type": float, "default": 1.0, "help": "rate window in seconds"}),
        ("--no-rate-headers", {"action": "store_true", "help": "omit X-RateLimit-* headers"}),
        ("--no-retry-after", {"action": "store_true", "help": "omit Retry-After on 429"}),
        ("--error-rate", {"type": float, "default": 0.0, "help": "probability of a random error"}),
        ("--error-status", {"type": int, "default": 503, "help": "status of the random errors"}),
        ("--fail-first", {"type": int, "default": 0, "help": "the first N API requests answer 500"}),
        ("--latency-ms", {"type": float, "default": 0.0, "help": "delay before each answer"}),
        ("--fault-seed", {"type": int, "default": 0, "help": "seed of the random errors"}),
        ("--route-status", {"action": "append", "default": [], "metavar": "ROUTE=STATUS",
                            "help": "a route that always answers STATUS, e.g. /targets/redlist/mail=404 "
                                    "(repeatable)"}),
    ],
}  # fmt: skip


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the sandbox options (server, account, faults) to `parser`."""
    for title, options in _OPTIONS.items():
        group = parser.add_argument_group(title)
        for flag, keywords in options:
            shown = " (default: %(default)s)" if "default" in keywords else ""
            group.add_argument(flag, **{**keywords, "help": keywords["help"] + shown})


def spec_and_faults_from_args(args: argparse.Namespace) -> tuple[AccountSpec, Faults]:
    """The account spec and fault knobs described by parsed `add_arguments` options."""
    spec = AccountSpec.from_strings(seed=args.seed, actions=args.actions, events_per_day=args.events_per_day,
                                    start=args.start, days=args.days, api_key=args.api_key)  # fmt: skip
    faults = Faults(
        rate_limit=args.rate_limit,
        rate_window_s=args.rate_window,
        rate_headers=not args.no_rate_headers,
        retry_after=not args.no_retry_after,
        error_rate=args.error_rate,
        error_status=args.error_status,
        fail_first=args.fail_first,
        latency_ms=args.latency_ms,
        seed=args.fault_seed,
        route_status=dict(_route_status(item) for item in args.route_status),
    )
    return spec, faults


def _route_status(item: str) -> tuple[str, int]:
    """`/targets/redlist/mail=404` as (route, status)."""
    route, _, status = item.rpartition("=")
    if not route or not status.isdigit():
        raise SystemExit(f"--route-status: {item!r} is not ROUTE=STATUS (e.g. /actions/archives=403)")
    return route, int(status)


def key_hint(api_key: str) -> str:
    """How the start-up line shows the key: the public default in full, any other key masked."""
    return api_key if api_key == DEFAULT_KEY else f"{api_key[:2]}…({len(api_key)} chars, from --api-key)"


def serve_from_args(args: argparse.Namespace) -> None:
    """Serve the account and faults described by `add_arguments` options until Ctrl-C, after one
    line on stdout with the URL and a hint of the key. Raises ValueError on a bad option value."""
    spec, faults = spec_and_faults_from_args(args)
    server = SandboxServer(Account(spec, cache_mb=args.cache_mb), args.host, args.port, faults,
                           log_requests=args.log_requests, read_ahead=not args.no_read_ahead)  # fmt: skip
    span = f"{spec.start:%Y-%m-%d %H:%M} UTC + {spec.days} days, ~{spec.events_per_day} events/day"
    print(f"NP6 sandbox on {server.url}  (X-Key: {key_hint(spec.api_key)}; {span}, seed {spec.seed});"
          " Ctrl-C to stop", flush=True)  # fmt: skip
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


def main(argv: Sequence[str] | None = None) -> int:
    description = (__doc__ or "").split("\n")[0]
    parser = argparse.ArgumentParser(prog="python -m sources.np6_sandbox", description=description)
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        serve_from_args(args)
    except ValueError as exc:
        parser.error(str(exc))
    except OSError as exc:  # e.g. the port is taken
        parser.exit(1, f"{parser.prog}: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
