"""How fast the sandbox renders and serves events.

    python -m sources.np6_sandbox.bench [--events-per-day 300000] [--hours 24]

Prints three rates for one window of `--hours` hours:
- render, cold: generate and render every hour of the window (what a first request costs);
- render, warm: select and join the cached hours (what a repeated request costs);
- served over HTTP by a sandbox in a child process to a client that reads the body, cold then
  warm, and the same with the client parsing the body with orjson;
- a connector-like client reading consecutive windows and parsing each answer, with the
  sandbox's read-ahead off and on.
"""

from __future__ import annotations

import argparse
import time
from datetime import datetime, timezone

import httpx
import orjson

from .data import Account, AccountSpec, EventFilter
from .process import SandboxProcess
from .times import HOUR_MS


def _rate(events: int, seconds: float) -> str:
    return f"{events:>9,} events in {seconds:6.2f} s = {events / seconds:>11,.0f} events/s"


def render_rates(spec: AccountSpec, hours: int) -> None:
    account = Account(spec, cache_mb=4096)
    began, cpu = time.perf_counter(), time.thread_time()
    events = sum(len(account.bucket(i).json) for i in range(hours))
    print(f"render, cold (generate + render)  {_rate(events, time.perf_counter() - began)}"
          f"  (CPU {events / (time.thread_time() - cpu):,.0f}/s)")  # fmt: skip
    everything, size = EventFilter(), 0
    began, cpu = time.perf_counter(), time.thread_time()
    for i in range(hours):
        bucket = account.bucket(i)
        size += len(b",".join(map(bucket.json.__getitem__, bucket.select(0, 2**63, everything))))
    cpu_rate = events / (time.thread_time() - cpu)
    print(f"render, warm (select + join)      {_rate(events, time.perf_counter() - began)}"
          f"  (CPU {cpu_rate:,.0f}/s, {size / events:.0f} bytes/event)")  # fmt: skip


def served_rates(spec: AccountSpec, hours: int) -> None:
    params = {"start": spec.start_ms, "end": spec.start_ms + hours * HOUR_MS, "sort": "asc"}
    with SandboxProcess(spec, cache_mb=4096) as child, httpx.Client(
        base_url=child.url, headers={"X-Key": child.api_key}, timeout=600
    ) as client:
        for label, parse in (("cold", False), ("warm", False), ("warm + orjson", True)):
            began = time.perf_counter()
            body = client.get("/actions/events", params=params).raise_for_status().content
            events = len(orjson.loads(body)) if parse else body.count(b'"identity":')
            print(f"served over HTTP, {label:<15} {_rate(events, time.perf_counter() - began)}")


def windowed_rates(spec: AccountSpec, hours: int, window_hours: int) -> None:
    """A connector-like client: consecutive windows, each answer parsed before the next request."""
    for read_ahead in (False, True):
        with SandboxProcess(spec, read_ahead=read_ahead) as child, httpx.Client(
            base_url=child.url, headers={"X-Key": child.api_key}, timeout=600
        ) as client:
            began, events = time.perf_counter(), 0
            for start in range(spec.start_ms, spec.start_ms + hours * HOUR_MS, window_hours * HOUR_MS):
                params = {"start": start, "end": start + window_hours * HOUR_MS}
                events += len(orjson.loads(client.get("/actions/events", params=params).content))
            label = f"{window_hours} h windows, read-ahead {'on' if read_ahead else 'off'}"
            print(f"client parsing {label:<23} {_rate(events, time.perf_counter() - began)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events-per-day", type=int, default=300_000)
    parser.add_argument("--hours", type=int, default=24)
    parser.add_argument("--window-hours", type=int, default=1)
    args = parser.parse_args()
    start = datetime(2026, 10, 1, tzinfo=timezone.utc)
    spec = AccountSpec(seed=1, events_per_day=args.events_per_day, start=start, days=-(-args.hours // 24))
    render_rates(spec, args.hours)
    served_rates(spec, args.hours)
    windowed_rates(spec, args.hours, args.window_hours)


if __name__ == "__main__":
    main()
