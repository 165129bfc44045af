"""The benchmark's pieces work (no timing asserted): the pre-built server, the rate, the sampler."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from datetime import datetime, timezone

import httpx
import pytest

from benchmarks.bench_floor import Result, marginal_rate
from benchmarks.prebuilt import PrebuiltServer, build_windows
from benchmarks.treerss import run_sampled
from sources.np6_sandbox import Account, AccountSpec, SandboxServer

SPEC = AccountSpec(seed=3, actions=2, events_per_day=300, start=datetime(2026, 6, 1, tzinfo=timezone.utc), days=2,
                   api_key="smoke-key")  # fmt: skip


@pytest.fixture(scope="module")
def prebuilt() -> Iterator[PrebuiltServer]:
    server = PrebuiltServer(build_windows(SPEC), SPEC.api_key)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_prebuilt_bodies_are_the_sandboxs_own_bytes(prebuilt: PrebuiltServer) -> None:
    assert [w.start[:10] for w in prebuilt.windows] == ["2026-06-01", "2026-06-02"]
    window = prebuilt.windows[1]
    params = {"start": window.start, "end": window.end, "sort": "asc"}
    with SandboxServer(Account(SPEC)) as sandbox:
        expected = httpx.get(f"{sandbox.url}/actions/events", params=params, headers={"X-Key": SPEC.api_key}).content
    # the connector writes the bounds its own way (Z, milliseconds): the lookup compares instants
    params |= {"start": "2026-06-02T00:00:00.000Z", "end": "2026-06-03T00:00:00Z"}
    served = httpx.get(f"{prebuilt.url}/actions/events", params=params, headers={"X-Key": SPEC.api_key})
    assert served.status_code == 200 and window.events > 0
    assert served.content == expected


def test_prebuilt_answers_other_routes_empty_and_counts_misses(prebuilt: PrebuiltServer) -> None:
    key = {"X-Key": SPEC.api_key}
    httpx.post(f"{prebuilt.url}/_bench/reset").raise_for_status()
    assert httpx.get(f"{prebuilt.url}/actions/events").status_code == 401
    assert httpx.get(f"{prebuilt.url}/notifications", headers=key).json() == []
    missing = {"start": "2027-01-01", "end": "2027-01-02"}
    assert httpx.get(f"{prebuilt.url}/actions/events", params=missing, headers=key).json() == []
    assert httpx.get(f"{prebuilt.url}/_bench/stats").json() == {"requests": 2, "misses": 1, "events": 0}
    listing = httpx.get(f"{prebuilt.url}/_bench/windows").json()
    assert [row[2] for row in listing] == [w.events for w in prebuilt.windows]


@pytest.mark.parametrize(
    ("short", "long", "rate"),
    [
        pytest.param(Result(1_000, 2.0, 100), Result(11_000, 4.0, 100), 5_000.0, id="start-up cancels"),
        pytest.param(Result(0, 1.5, 100), Result(3_000, 2.5, 100), 3_000.0, id="empty short range"),
    ],
)
def test_marginal_rate(short: Result, long: Result, rate: float) -> None:
    assert marginal_rate(short, long) == pytest.approx(rate)


def test_marginal_rate_refuses_a_long_range_that_was_not_longer() -> None:
    with pytest.raises(ValueError, match="too short to measure"):
        marginal_rate(Result(1_000, 3.0, 100), Result(2_000, 3.0, 100))


def test_sampled_peak_counts_children() -> None:
    child = "import time; b = bytearray(80 << 20); b[::4096] = b'x' * len(b[::4096]); time.sleep(0.5)"
    parent = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {child!r}], check=True)"
    run = run_sampled([sys.executable, "-c", parent], interval=0.02)
    assert run.returncode == 0 and run.samples > 3
    assert run.peak_rss_mb > 80  # the child's 80 MB, seen from the parent's tree
