"""Benchmark: `orjson.loads` + `normalize_events` on one realistic sandbox window, in one process.

    python benchmarks/bench_normalize.py                                  # current module only
    python benchmarks/bench_normalize.py --baseline /tmp/normalize_old    # old copy vs current

A sandbox account (seed 42, 50 actions, 20k events/day) is served on a local port and one day of
the account-wide feed is fetched once (`GET /actions/events?sort=asc`). Each timing parses the
body and normalizes it with the cyclic GC disabled, as the decoding workers do
(`sources.np6.decode`). Each module is timed `--repeat` times (interleaved, after one warm-up
run); the medians are printed as events/s and µs/event. The parse alone is printed too, so the
normalize share can be read off. `--baseline` is any other copy of the `sources/np6/normalize/`
package (a folder), e.g. the previous commit's, or of the single `normalize.py` it was before,
loaded under another module name.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import statistics
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import orjson  # noqa: E402

from sources.np6 import normalize as current  # noqa: E402
from sources.np6_sandbox import Account, AccountSpec, SandboxServer  # noqa: E402


def fetch_body(events_per_day: int) -> bytes:
    """One day of the account-wide event feed, as the connector receives it."""
    spec = AccountSpec(
        seed=42, actions=50, events_per_day=events_per_day,
        start=datetime(2026, 9, 1, tzinfo=timezone.utc), days=1,
    )  # fmt: skip
    with SandboxServer(Account(spec)) as server:
        server.start()
        response = httpx.get(
            f"{server.url}/actions/events",
            params={"start": "2026-09-01", "end": "2026-09-02", "sort": "asc"},
            headers={"X-Key": server.api_key},
            timeout=600,
        )
        response.raise_for_status()
        return response.content


def load_module(path: str) -> ModuleType:
    """Import a copy of the normalize package (a folder) or module (a file), under its own name."""
    package = Path(path).is_dir()
    spec = importlib.util.spec_from_file_location(
        "np6_normalize_baseline", Path(path, "__init__.py") if package else path,
        submodule_search_locations=[path] if package else None,
    )  # fmt: skip
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclass/NamedTuple machinery looks the module up
    spec.loader.exec_module(module)
    return module


def timed(run: Callable[[], Any]) -> float:
    """CPU seconds one run takes with the cyclic GC off (as in the decoding workers).

    CPU time of this process rather than wall time: on a shared machine it is much less
    disturbed by other processes (the sandbox thread is idle once the body is fetched).
    """
    gc.collect()
    gc.disable()
    try:
        started = time.process_time()
        run()
        return time.process_time() - started
    finally:
        gc.enable()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baseline", help="another copy of normalize/ (or normalize.py) to compare against")
    parser.add_argument("--events-per-day", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()

    body = fetch_body(args.events_per_day)
    count = len(orjson.loads(body))
    print(f"body: {len(body) / 1e6:.1f} MB, {count} events")

    modules = {"current": current}
    if args.baseline:
        modules = {"baseline": load_module(args.baseline), **modules}
        ours = current.normalize_events(orjson.loads(body))
        theirs = modules["baseline"].normalize_events(orjson.loads(body))
        same = ours.tables.keys() == theirs.tables.keys() and all(
            ours.tables[name].equals(theirs.tables[name]) for name in ours.tables
        )
        print(f"identical tables: {same}")

    runs: dict[str, list[float]] = {"parse only": [], **{name: [] for name in modules}}
    for name, module in modules.items():  # warm-up
        timed(lambda module=module: module.normalize_events(orjson.loads(body)))
    for _ in range(args.repeat):
        runs["parse only"].append(timed(lambda: orjson.loads(body)))
        for name, module in modules.items():
            runs[name].append(
                timed(lambda module=module: module.normalize_events(orjson.loads(body)))
            )

    # The same work on events parsed once and reused: the Python and Arrow cost of normalize
    # without the cache misses of fresh objects (an optimistic view, for comparison only).
    events = orjson.loads(body)
    warm: dict[str, list[float]] = {name: [] for name in modules}
    for _ in range(args.repeat):
        for name, module in modules.items():
            warm[name].append(timed(lambda module=module: module.normalize_events(events)))

    parse = statistics.median(runs["parse only"])
    print(f"medians of {args.repeat} runs (min in brackets), parse + normalize:")
    print(f"{'':<12}{'events/s':>12}{'µs/event':>10}{'normalize alone µs/event':>26}")
    for name, seconds in runs.items():
        median, best = statistics.median(seconds), min(seconds)
        share = "" if name == "parse only" else f"{(median - parse) / count * 1e6:>16.2f}"
        print(f"{name:<12}{count / median:>12,.0f}{median / count * 1e6:>10.2f}"
              f" [{best / count * 1e6:.2f}]{share}")
    print("normalize alone on already-parsed (warm) events:")
    for name, seconds in warm.items():
        median, best = statistics.median(seconds), min(seconds)
        print(f"{name:<12}{count / median:>12,.0f}{median / count * 1e6:>10.2f}"
              f" [{best / count * 1e6:.2f}]")


if __name__ == "__main__":
    main()
