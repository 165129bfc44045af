"""Benchmark: the connector's load rate beside the floor, on the same windows of the same server.

    python benchmarks/bench_load.py                      # 500k events
    python benchmarks/bench_load.py --events 100000,1000000

For each size N, a local NP6 sandbox serving N events (a fixed 50,000 events a day, so N/50k
days: more events means more windows, not bigger ones) runs in its own process, then two more
processes read the same day windows of the account-wide feed:
  floor      download + JSON parse only (httpx + orjson): the fastest any connector could go;
  connector  `np6` end to end: download, parse, flatten to Arrow, dlt extract/normalize/load
             into a fresh DuckDB file, state and bookkeeping included.
Each prints events/s and its peak resident memory (the connector's includes its decoding worker
processes); the last column is connector/floor.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START = "2026-06-01"
EVENTS_PER_DAY = 50_000
KEY = "bench-key"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def peak_rss_mb() -> float:
    """Peak RSS of this process plus the largest of its finished children (decode workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return (own + children) / 1024


def day_windows(days: int) -> list[tuple[str, str]]:
    import pendulum

    first = pendulum.parse(START)
    edges = [first.add(days=i) for i in range(days + 1)]
    return [(a.to_iso8601_string(), b.to_iso8601_string()) for a, b in zip(edges, edges[1:])]


def phase_floor(url: str, days: int) -> dict[str, float]:
    import httpx
    import orjson

    events, started = 0, time.perf_counter()
    with httpx.Client(base_url=url, headers={"X-Key": KEY}, timeout=600) as client:
        for start, end in day_windows(days):
            body = client.get("/actions/events", params={"start": start, "end": end, "sort": "asc"})
            body.raise_for_status()
            events += len(orjson.loads(body.content))
    seconds = time.perf_counter() - started
    return {"events": events, "seconds": seconds, "rss_mb": peak_rss_mb()}


def phase_connector(url: str, days: int) -> dict[str, float]:
    import dlt

    from sources.np6 import decode
    from pipelines.runner import load_once

    with tempfile.TemporaryDirectory() as tmp:
        pipeline = dlt.pipeline(
            pipeline_name="np6_bench",
            destination=dlt.destinations.duckdb(os.path.join(tmp, "bench.duckdb")),
            dataset_name="np6",
            pipelines_dir=os.path.join(tmp, "state"),
        )
        started = time.perf_counter()
        summary = load_once(
            pipeline,
            progress=lambda line: None,
            resources=["hits", "activations", "bounces", "cancellations", "executions", "other_events"],
            base_url=url,
            api_key=KEY,
            range_start=START,
            range_end=day_windows(days)[-1][1],
        )
        seconds = time.perf_counter() - started
        decode.shutdown()  # reap the workers so their peak memory is counted
    return {"events": summary.event_rows, "seconds": seconds, "rss_mb": peak_rss_mb()}


def run_phase(phase: str, url: str, days: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--phase", phase, "--url", url, "--days", str(days)],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def start_sandbox(days: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    cmd = [sys.executable, "-m", "sources.np6_sandbox", "--port", str(port), "--api-key", KEY,
           "--start", START, "--days", str(days), "--events-per-day", str(EVENTS_PER_DAY),
           "--actions", "50"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("the sandbox did not start")


def bench(sizes: list[int]) -> None:
    print(f"{'events':>10} {'phase':<10} {'events/s':>10} {'peak MB':>8} {'vs floor':>9}")
    for size in sizes:
        days = max(1, round(size / EVENTS_PER_DAY))
        proc, url = start_sandbox(days)
        try:
            floor = run_phase("floor", url, days)
            conn = run_phase("connector", url, days)
        finally:
            proc.terminate()
            proc.wait()
        if conn["events"] != floor["events"]:
            print(f"  warning: connector loaded {conn['events']} events, floor read {floor['events']}")
        f_rate, c_rate = floor["events"] / floor["seconds"], conn["events"] / conn["seconds"]
        print(f"{floor['events']:>10,} {'floor':<10} {f_rate:>10,.0f} {floor['rss_mb']:>8.0f} {'1.00':>9}")
        print(f"{conn['events']:>10,} {'connector':<10} {c_rate:>10,.0f} {conn['rss_mb']:>8.0f} "
              f"{c_rate / f_rate:>9.2f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", default="500000", help="comma-separated sizes (default 500000)")
    parser.add_argument("--phase", choices=["floor", "connector"], help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--days", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        phase = phase_floor if args.phase == "floor" else phase_connector
        result = phase(args.url, args.days)
        print(json.dumps(result))
        return
    bench([int(n) for n in args.events.split(",")])


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
