"""Benchmark: the connector beside the floor and a plain dlt baseline, measured so it cannot flatter itself.

    make bench                                     # = python -m benchmarks.bench_floor
    python -m benchmarks.bench_floor --only 6k --json /tmp/bench.json

Every number comes from one run on one machine:
- The server is `benchmarks.prebuilt`: the sandbox's own bodies of every daily window, built
  before the clock starts and served from memory in a process of their own. The run checks that
  it serves at least 3x the floor's rate (4 concurrent downloads that only read the bytes) and
  stops otherwise, so the server is never what is measured.
- Phases, each in its own process (`--phase`), on the same windows of the account-wide feed:
    floor      httpx + orjson.loads of each window, 4 in flight like the connector's default
               concurrency (so downloads overlap parsing): no connector can be faster;
    plain      the obvious dlt code: a resource yielding `pyarrow.Table.from_pylist` of each
               parsed window (downloaded one after the other), one `pipeline.run` into DuckDB,
               parquet loader files, append;
    connector  the real CLI, `np6 load --start --end --resources <the event tables>`, default
               settings, a fresh DuckDB file and DLT_DATA_DIR.
- Rates are marginal: (events_long - events_short) / (seconds_long - seconds_short) between a
  short and a long range of the same density, which cancels start-up and fixed costs.
- Peak RSS is the whole process tree (the phase and all its children, e.g. decoding workers),
  sampled every 50 ms (`benchmarks.treerss`).
- Idle: a scheduled `np6 load` of the default resources against the full sandbox, whose events
  end at the top of the hour before the first run; then three more runs with nothing new, timed
  (the median) with their requests counted (the most any of them asked), beside the median of
  three `np6 resources` start-ups.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import orjson

from benchmarks.prebuilt import PrebuiltProcess
from benchmarks.treerss import SampledRun, run_sampled
from sources.np6_sandbox import AccountSpec, SandboxProcess

ROOT = Path(__file__).resolve().parent.parent
NP6 = str(Path(sys.executable).with_name("np6"))
KEY = "bench-key"
START = datetime(2026, 6, 1, tzinfo=timezone.utc)
EVENT_RESOURCES = "hits,activations,bounces,cancellations,executions,other_events"
CONCURRENCY = 4  # the connector's default `concurrency`
SERVER_MARGIN = 3.0  # the server must serve this many times the floor's rate


@dataclass(frozen=True)
class Density:
    """One account density and the short and long ranges whose difference gives the rate."""

    name: str
    events_per_day: int
    short_days: int
    long_days: int
    actions: int = 3

    def spec(self, days: int | None = None) -> AccountSpec:
        return AccountSpec(seed=7, actions=self.actions, events_per_day=self.events_per_day, start=START,
                           days=days or self.long_days, api_key=KEY)  # fmt: skip


DENSITIES = {
    "6k": Density("~6k events a day", 6_000, 5, 31),
    "50k": Density("~50k events a day", 50_000, 3, 15),
}
BIG_DAY = Density("one 200k-event day", 200_000, 1, 1)


@dataclass
class Result:
    """One phase over one range: events read or loaded, wall seconds, peak RSS of its tree."""

    events: int
    seconds: float
    peak_rss_mb: float


def marginal_rate(short: Result, long: Result) -> float:
    """Extra events per extra second from the short range to the long one (start-up cancels)."""
    extra_seconds = long.seconds - short.seconds
    if extra_seconds <= 0:
        raise ValueError(f"the long range took no longer than the short one ({long.seconds:.2f} s "
                         f"<= {short.seconds:.2f} s): too short to measure")  # fmt: skip
    return (long.events - short.events) / extra_seconds


# --- phases, each run in its own process ------------------------------------------------------


def windows(url: str, days: int) -> list[tuple[str, str, int]]:
    """The first `days` daily windows the server holds: (start, end, events)."""
    listing = httpx.get(f"{url}/_bench/windows", timeout=60).raise_for_status().json()
    return [tuple(w) for w in listing[:days]]


def _fetch_all(url: str, days: int, read: Callable[[bytes], int]) -> int:
    """`read` every window's body, CONCURRENCY requests in flight; the sum of what `read` says."""
    with httpx.Client(base_url=url, headers={"X-Key": KEY}, timeout=600) as client:

        def one(window: tuple[str, str, int]) -> int:
            params = {"start": window[0], "end": window[1], "sort": "asc"}
            return read(client.get("/actions/events", params=params).raise_for_status().content)

        with ThreadPoolExecutor(CONCURRENCY) as pool:
            return sum(pool.map(one, windows(url, days)))


def phase_floor(url: str, days: int) -> dict[str, Any]:
    return {"events": _fetch_all(url, days, lambda body: len(orjson.loads(body)))}


def phase_serve(url: str, days: int) -> dict[str, Any]:
    """Download only: the server's own rate, timed inside (no start-up to cancel)."""
    import time

    counts = {(w[0], w[1]): w[2] for w in windows(url, days)}
    began = time.perf_counter()
    served = _fetch_all(url, days, len)
    seconds = time.perf_counter() - began
    return {"events": sum(counts.values()), "seconds": seconds, "bytes": served}


def _arrow_windows(url: str, days: int) -> Iterator[Any]:
    import pyarrow as pa

    with httpx.Client(base_url=url, headers={"X-Key": KEY}, timeout=600) as client:
        for start, end, _ in windows(url, days):
            params = {"start": start, "end": end, "sort": "asc"}
            body = client.get("/actions/events", params=params).raise_for_status().content
            yield pa.Table.from_pylist(orjson.loads(body))


def phase_plain(url: str, days: int) -> dict[str, Any]:
    import dlt

    # What dlt's own error advises when a later window's nested structs differ from the first's
    # (1% of events carry extra members): merge the safe differences, never alter data.
    os.environ["DATA_WRITER__ARROW_CONCAT_PROMOTE_OPTIONS"] = "default"
    with tempfile.TemporaryDirectory() as tmp:
        pipeline = dlt.pipeline(pipeline_name="plain_bench", pipelines_dir=os.path.join(tmp, "state"),
                                destination=dlt.destinations.duckdb(os.path.join(tmp, "plain.duckdb")),
                                dataset_name="np6")  # fmt: skip
        resource = dlt.resource(_arrow_windows(url, days), name="events")
        pipeline.run(resource, loader_file_format="parquet")
        events = pipeline.last_trace.last_normalize_info.row_counts.get("events", 0)
    return {"events": events}


PHASES = {"floor": phase_floor, "serve": phase_serve, "plain": phase_plain}


# --- the orchestrator -------------------------------------------------------------------------


def _env(**extra: str) -> dict[str, str]:
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return dict(os.environ, PYTHONPATH=path, RUNTIME__DLTHUB_TELEMETRY="false", **extra)


def _checked(run: SampledRun, what: str) -> SampledRun:
    if run.returncode != 0:
        raise SystemExit(f"{what} failed (exit {run.returncode}):\n{run.stderr[-3000:]}")
    return run


def run_phase(phase: str, url: str, days: int) -> tuple[Result, dict[str, Any]]:
    """One `--phase` child: its wall time and tree RSS, and what it printed as JSON."""
    argv = [sys.executable, "-m", "benchmarks.bench_floor", "--phase", phase, "--url", url, "--days", str(days)]
    run = _checked(run_sampled(argv, env=_env(), cwd=ROOT), f"phase {phase} over {days} days")
    out = json.loads(run.stdout.strip().splitlines()[-1])
    return Result(out["events"], run.seconds, run.peak_rss_mb), out


def run_connector(url: str, days: int) -> Result:
    """`np6 load` of the event tables over the first `days` days, fresh destination and state."""
    end = (START + timedelta(days=days)).isoformat()
    with tempfile.TemporaryDirectory() as tmp:
        summary = os.path.join(tmp, "summary.json")
        env = _env(SOURCES__NP6__BASE_URL=url, SOURCES__NP6__API_KEY=KEY, DLT_DATA_DIR=os.path.join(tmp, "dlt"),
                   DESTINATION__DUCKDB__CREDENTIALS=os.path.join(tmp, "bench.duckdb"))  # fmt: skip
        argv = [NP6, "load", "--start", START.isoformat(), "--end", end, "--resources", EVENT_RESOURCES,
                "--summary-json", summary]  # fmt: skip
        run = _checked(run_sampled(argv, env=env, cwd=tmp), f"np6 load over {days} days")
        events = json.loads(Path(summary).read_text())["event_rows"]
    return Result(events, run.seconds, run.peak_rss_mb)


def server_stats(url: str, reset: bool = False) -> dict[str, int]:
    if reset:
        httpx.post(f"{url}/_bench/reset", timeout=60).raise_for_status()
    return httpx.get(f"{url}/_bench/stats", timeout=60).raise_for_status().json()


@dataclass
class DensityReport:
    """Short and long results per phase, their marginal rates and the server check."""

    name: str
    events_per_day: int
    days: tuple[int, int]
    results: dict[str, dict[str, Result]] = field(default_factory=dict)  # phase -> short/long
    marginal: dict[str, float] = field(default_factory=dict)
    server_rate: float = 0.0
    misses: int = 0


def bench_density(density: Density, progress: Callable[[str], None]) -> DensityReport:
    report = DensityReport(density.name, density.events_per_day, (density.short_days, density.long_days))
    progress(f"building the bodies of {density.name}, {density.long_days} days ...")
    with PrebuiltProcess(density.spec()) as server:
        server_stats(server.url, reset=True)
        for phase in ("floor", "plain", "connector"):
            report.results[phase] = {}
            for label, days in (("short", density.short_days), ("long", density.long_days)):
                progress(f"  {phase:<9} {days:>2} days ...")
                got = run_connector(server.url, days) if phase == "connector" else run_phase(phase, server.url, days)[0]
                report.results[phase][label] = got
            if density.short_days != density.long_days:
                report.marginal[phase] = marginal_rate(report.results[phase]["short"], report.results[phase]["long"])
        report.misses = server_stats(server.url)["misses"]
        _, served = run_phase("serve", server.url, density.long_days)
        report.server_rate = served["events"] / served["seconds"]
    return report


@dataclass
class IdleReport:
    """A scheduled run with nothing new beside the CLI's start-up."""

    setup_seconds: float
    seconds: float
    requests: int
    by_route: dict[str, int]
    peak_rss_mb: float
    startup_seconds: float


IDLE_RUNS = 3


def bench_idle(history: str, progress: Callable[[str], None]) -> IdleReport:
    """Scheduled runs of the default resources against the sandbox (an account of ~6k events a
    day, 3 actions, whose events end at the top of this hour): the first loads `history`, the
    next `IDLE_RUNS` have nothing new (the hour ended before the first run's safety margin)."""
    now = (datetime.now(timezone.utc) - timedelta(minutes=10)).replace(minute=0, second=0, microsecond=0)
    spec = AccountSpec(seed=7, actions=3, events_per_day=6_000, start=now - timedelta(days=31), days=31, api_key=KEY)
    with SandboxProcess(spec) as sandbox, tempfile.TemporaryDirectory() as tmp:
        env = _env(SOURCES__NP6__BASE_URL=sandbox.url, SOURCES__NP6__API_KEY=KEY, DLT_DATA_DIR=os.path.join(tmp, "dlt"),
                   DESTINATION__DUCKDB__CREDENTIALS=os.path.join(tmp, "bench.duckdb"))  # fmt: skip
        progress(f"idle: first scheduled run (history {history}) ...")
        setup = _checked(run_sampled([NP6, "load"], env=dict(env, SOURCES__NP6__START_DATE=history), cwd=tmp),
                         "the first scheduled np6 load")  # fmt: skip
        runs, counts = [], []
        for n in range(IDLE_RUNS):
            httpx.post(f"{sandbox.url}/_sandbox/reset", timeout=60).raise_for_status()
            progress(f"idle: scheduled run {n + 2} (nothing new) ...")
            runs.append(_checked(run_sampled([NP6, "load"], env=env, cwd=tmp), "the idle np6 load"))
            counts.append(httpx.get(f"{sandbox.url}/_sandbox/stats", timeout=60).raise_for_status().json())
        idle = sorted(runs, key=lambda r: r.seconds)[len(runs) // 2]
        stats = max(counts, key=lambda c: c["requests"])
        startups = [_checked(run_sampled([NP6, "resources"], env=env, cwd=tmp), "np6 resources").seconds
                    for _ in range(3)]  # fmt: skip
    return IdleReport(setup.seconds, idle.seconds, stats["requests"], stats["by_route"], idle.peak_rss_mb,
                      statistics.median(startups))  # fmt: skip


def bench_big_day(progress: Callable[[str], None]) -> dict[str, Result]:
    progress(f"building {BIG_DAY.name} ...")
    with PrebuiltProcess(BIG_DAY.spec()) as server:
        progress("  floor, connector over one day ...")
        return {"floor": run_phase("floor", server.url, 1)[0], "connector": run_connector(server.url, 1)}


# --- the report -------------------------------------------------------------------------------


def density_table(report: DensityReport) -> list[str]:
    short, long = report.days
    lines = [f"{report.name} ({report.events_per_day:,}/day, 3 actions, daily windows): {short} vs {long} days",
             f"  {'phase':<10}{'events':>9}{'s':>7}{'MB':>6} |{'events':>9}{'s':>7}{'MB':>6} |"
             f"{'marginal ev/s':>14}{'vs floor':>9}"]  # fmt: skip
    floor = report.marginal.get("floor", 0.0)
    for phase, runs in report.results.items():
        a, b = runs["short"], runs["long"]
        rate = report.marginal.get(phase, 0.0)
        lines.append(f"  {phase:<10}{a.events:>9,}{a.seconds:>7.2f}{a.peak_rss_mb:>6.0f} |{b.events:>9,}"
                     f"{b.seconds:>7.2f}{b.peak_rss_mb:>6.0f} |{rate:>14,.0f}{rate / floor:>9.2f}")  # fmt: skip
    lines.append(f"  server: {report.server_rate:,.0f} events/s served to {CONCURRENCY} concurrent downloads = "
                 f"{report.server_rate / floor:.1f}x the floor (needs >= {SERVER_MARGIN:.0f}x); "
                 f"{report.misses} window misses")  # fmt: skip
    return lines


def idle_lines(idle: IdleReport) -> list[str]:
    return [f"idle scheduled run, default resources (nothing new): {idle.seconds:.2f} s, {idle.requests} requests, "
            f"{idle.peak_rss_mb:.0f} MB; CLI start-up (np6 resources) {idle.startup_seconds:.2f} s = "
            f"{idle.seconds / idle.startup_seconds:.1f}x (first run: {idle.setup_seconds:.1f} s)"]  # fmt: skip


def big_day_lines(big: dict[str, Result]) -> list[str]:
    return [f"{BIG_DAY.name}: " + ", ".join(f"{phase} {r.events:,} events in {r.seconds:.2f} s, {r.peak_rss_mb:.0f} MB"
                                            for phase, r in big.items())]  # fmt: skip


def targets(densities: dict[str, DensityReport], idle: IdleReport | None,
            big: dict[str, Result] | None) -> list[tuple[str, bool]]:  # fmt: skip
    """The issue's targets that this run measured: (what, met)."""
    checks = []
    for key, wanted in (("6k", 0.5), ("50k", 0.6)):
        if key in densities:
            rates = densities[key].marginal
            checks.append((f"{key}/day: connector >= {wanted}x the floor", rates["connector"] >= wanted * rates["floor"]))
    if "50k" in densities:
        runs = densities["50k"].results["connector"]
        short, long = runs["short"].peak_rss_mb, runs["long"].peak_rss_mb
        checks.append(("50k/day: peak RSS <= 400 MB", max(short, long) <= 400))
        checks.append(("50k/day: peak RSS flat within 15% (short vs long)", long <= 1.15 * short))
    if idle:
        checks.append(("idle run <= 3x CLI start-up", idle.seconds <= 3 * idle.startup_seconds))
        checks.append(("idle run <= 25 requests", idle.requests <= 25))
    if big:
        checks.append(("200k-event day: peak RSS < 600 MB", big["connector"].peak_rss_mb < 600))
    return checks


def check_server(report: DensityReport) -> None:
    """Stop loudly when the server could have been the bottleneck."""
    floor = report.marginal["floor"]
    if report.server_rate < SERVER_MARGIN * floor:
        raise SystemExit(f"FAIL: the pre-built server served {report.server_rate:,.0f} events/s, under "
                         f"{SERVER_MARGIN:.0f}x the floor's {floor:,.0f}: the numbers of {report.name} "
                         "would measure the server")  # fmt: skip
    if report.misses:
        raise SystemExit(f"FAIL: {report.misses} requests of {report.name} asked for a window the server "
                         "does not hold (answered []): the phases did not read the same windows")  # fmt: skip


def write_json(path: str, densities: dict[str, DensityReport], idle: IdleReport | None,
               big: dict[str, Result] | None, loads: tuple[float, float]) -> None:  # fmt: skip
    data = {"densities": {k: asdict(v) for k, v in densities.items()},
            "idle": asdict(idle) if idle else None,
            "big_day": {k: asdict(v) for k, v in big.items()} if big else None,
            "targets": dict(targets(densities, idle, big)), "cores": os.cpu_count(), "load_average": loads}  # fmt: skip
    Path(path).write_text(json.dumps(data, indent=2))


def bench(only: list[str], idle_history: str, json_path: str | None) -> None:
    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    load_before = os.getloadavg()[0]
    densities: dict[str, DensityReport] = {}
    for key in (k for k in DENSITIES if k in only):
        densities[key] = bench_density(DENSITIES[key], progress)
        check_server(densities[key])
        print("\n".join(density_table(densities[key])) + "\n", flush=True)
    big = bench_big_day(progress) if "bigday" in only else None
    idle = bench_idle(idle_history, progress) if "idle" in only else None
    print("\n".join((big_day_lines(big) if big else []) + (idle_lines(idle) if idle else [])))
    loads = (load_before, os.getloadavg()[0])
    print(f"machine: {os.cpu_count()} cores, load average {loads[0]:.1f} before, {loads[1]:.1f} after "
          "(above the core count: other work shared the CPU, the numbers are low)")
    print("\ntargets (from the issue; benchmarks, not tests):")
    for what, met in targets(densities, idle, big):
        print(f"  {'met ' if met else 'MISS'}  {what}")
    if json_path:
        write_json(json_path, densities, idle, big, loads)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", choices=[*DENSITIES, "bigday", "idle"],
                        help="run only these parts (repeatable; default: all)")
    parser.add_argument("--idle-history", default="-2h",
                        help="what the first scheduled run of the idle part loads (default -2h; -30d "
                             "is a month of history, ~3000 contact requests: minutes)")  # fmt: skip
    parser.add_argument("--json", metavar="FILE", help="also write the numbers as JSON to FILE")
    parser.add_argument("--phase", choices=sorted(PHASES), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--days", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(PHASES[args.phase](args.url, args.days)))
        return
    bench(args.only or [*DENSITIES, "bigday", "idle"], args.idle_history, args.json)


if __name__ == "__main__":
    main()
