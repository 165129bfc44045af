"""Fault knobs, the test hooks (`/_sandbox/*`) and the command line."""

from __future__ import annotations

import argparse
import time
from typing import Any

import httpx
import pytest

from sources.np6_sandbox import AccountSpec, Faults, SandboxProcess
from sources.np6_sandbox.__main__ import add_arguments, spec_and_faults_from_args

RATE_HEADERS = {"x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"}


def statuses(client: httpx.Client, n: int, path: str = "/actions") -> list[int]:
    return [client.get(path).status_code for _ in range(n)]


# --- rate limit -------------------------------------------------------------------------------


def test_rate_limit_answers_429_with_headers(make_sandbox: Any) -> None:
    sandbox = make_sandbox(faults=Faults(rate_limit=3, rate_window_s=30))
    with sandbox.client() as client:
        ok = [client.get("/actions") for _ in range(3)]
        limited = client.get("/actions/events/hits")
    assert [r.status_code for r in ok] == [200, 200, 200]
    assert [r.headers["x-ratelimit-remaining"] for r in ok] == ["2", "1", "0"]
    assert all(r.headers["x-ratelimit-limit"] == "3" and "retry-after" not in r.headers for r in ok)
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["retry-after"]) <= 30
    assert limited.headers["x-ratelimit-remaining"] == "0"
    assert 0 < int(limited.headers["x-ratelimit-reset"]) - time.time() <= 31
    assert limited.json()["message"]


def test_rate_window_reopens(make_sandbox: Any) -> None:
    sandbox = make_sandbox(faults=Faults(rate_limit=2, rate_window_s=0.3))
    with sandbox.client() as client:
        assert statuses(client, 3) == [200, 200, 429]
        time.sleep(0.35)
        assert statuses(client, 1) == [200]


@pytest.mark.parametrize(
    "knobs, expected",
    [({"rate_headers": False}, {"retry-after"}), ({"retry_after": False}, RATE_HEADERS),
     ({"rate_headers": False, "retry_after": False}, set())],
    ids=["retry-after-only", "rate-headers-only", "bare-429"],
)  # fmt: skip
def test_rate_limit_header_options(make_sandbox: Any, knobs: dict, expected: set[str]) -> None:
    sandbox = make_sandbox(faults=Faults(rate_limit=1, rate_window_s=30, **knobs))
    with sandbox.client() as client:
        client.get("/actions")
        limited = client.get("/actions")
    assert limited.status_code == 429
    assert {h for h in limited.headers if h in RATE_HEADERS | {"retry-after"}} == expected


def test_no_rate_headers_without_a_limit(sandbox: Any) -> None:
    with sandbox.client() as client:
        assert not RATE_HEADERS & set(client.get("/actions").headers)


# --- errors and latency -----------------------------------------------------------------------


def test_fail_first_then_normal(make_sandbox: Any) -> None:
    sandbox = make_sandbox(faults=Faults(fail_first=2))
    with sandbox.client() as client:
        assert statuses(client, 4, "/actions/events/bounces") == [500, 500, 200, 200]


def test_error_rate_is_seeded_and_roughly_right(make_sandbox: Any) -> None:
    runs = []
    for _ in range(2):
        sandbox = make_sandbox(faults=Faults(error_rate=0.3, error_status=502, seed=5))
        with sandbox.client() as client:
            runs.append(statuses(client, 60))
    assert runs[0] == runs[1]
    assert set(runs[0]) == {200, 502}
    assert 8 <= runs[0].count(502) <= 30


def test_latency(make_sandbox: Any) -> None:
    sandbox = make_sandbox(faults=Faults(latency_ms=150))
    with sandbox.client() as client:
        began = time.perf_counter()
        client.get("/actions")
        assert time.perf_counter() - began >= 0.15


def test_faults_spare_the_test_hooks_and_follow_the_key_check(make_sandbox: Any) -> None:
    sandbox = make_sandbox(faults=Faults(fail_first=100))
    with sandbox.client() as client:
        assert client.get("/_sandbox/stats").status_code == 200
        assert httpx.get(f"{sandbox.url}/actions").status_code == 401
        assert client.get("/actions").status_code == 500


# --- test hooks -------------------------------------------------------------------------------


def test_faults_can_be_replaced_at_runtime(sandbox: Any) -> None:
    with sandbox.client() as client:
        answer = client.post("/_sandbox/faults", json={"fail_first": 1, "latency_ms": 1})
        assert answer.status_code == 200 and answer.json()["fail_first"] == 1
        assert statuses(client, 2) == [500, 200]
        assert client.get("/_sandbox/faults").json() == Faults(fail_first=1, latency_ms=1).to_dict()
        assert client.post("/_sandbox/faults", json={}).json() == Faults().to_dict()
        bad = client.post("/_sandbox/faults", json={"fail_frist": 1})
        assert bad.status_code == 400 and "fail_frist" in bad.json()["message"]
        assert client.post("/_sandbox/faults", json={"error_rate": 2}).status_code == 400
    sandbox.server.set_faults(Faults(fail_first=1))
    assert sandbox.server.faults.fail_first == 1


def test_stats_count_routes_events_and_log_requests(sandbox: Any) -> None:
    account = sandbox.account
    with sandbox.client() as client:
        hits = client.get("/actions/events/hits", params={"start": "2026-10-02"}).json()
        client.get(f"/actions/{account.action_ids()[0]}/events/bounces")
        client.get("/nowhere")
        httpx.get(f"{sandbox.url}/actions")
        stats = client.get("/_sandbox/stats").json()
        assert stats["requests"] == 4
        assert stats["by_route"] == {"/actions/events/hits": 1, "/actions/{id}/events/bounces": 1,
                                     "(no route)": 1, "/actions": 1}  # fmt: skip
        assert stats["by_status"] == {"200": 2, "404": 1, "401": 1}
        bounces = account.count(types="bounce", action_id=account.action_ids()[0])
        assert stats["events_served"] == len(hits) + bounces
        assert [(e["path"], e["status"]) for e in stats["log"]] == [
            ("/actions/events/hits", 200), (f"/actions/{account.action_ids()[0]}/events/bounces", 200),
            ("/nowhere", 404), ("/actions", 401)]  # fmt: skip
        assert stats["log"][0]["query"] == "start=2026-10-02"
        assert sandbox.api_key not in str(stats)
        assert client.post("/_sandbox/reset").json()["requests"] == 0
        empty = {"requests": 0, "by_route": {}, "by_status": {}, "events_served": 0, "log": []}
        assert client.get("/_sandbox/stats").json() == empty == sandbox.server.stats()


def test_server_stops_cleanly(make_sandbox: Any) -> None:
    sandbox = make_sandbox()
    client = sandbox.client()
    assert client.get("/actions").status_code == 200
    sandbox.server.stop()
    with pytest.raises(httpx.TransportError):
        client.get("/actions")
    client.close()


# --- command line -----------------------------------------------------------------------------


def test_command_line_options() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--seed", "3", "--start", "2026-10-01", "--days", "2", "--api-key", "k",
                              "--rate-limit", "5", "--error-rate", "0.1", "--latency-ms", "50",
                              "--no-retry-after"])  # fmt: skip
    spec, faults = spec_and_faults_from_args(args)
    assert (spec.seed, spec.start_ms, spec.days, spec.api_key) == (3, 1790812800000, 2, "k")
    assert (spec.actions, spec.events_per_day) == (20, 5000)
    assert faults == Faults(rate_limit=5, error_rate=0.1, latency_ms=50, retry_after=False)
    default_spec, default_faults = spec_and_faults_from_args(parser.parse_args([]))
    assert default_faults == Faults() and default_spec.api_key == "sandbox-key"


def test_sandbox_in_a_child_process() -> None:
    spec = AccountSpec(seed=3, actions=2, events_per_day=500, days=1, api_key="child-key")
    with SandboxProcess(spec, Faults(fail_first=1)) as child:
        assert child.url.startswith("http://127.0.0.1:") and child.port > 0
        with httpx.Client(base_url=child.url, headers={"X-Key": "child-key"}) as client:
            assert statuses(client, 2, "/actions/events") == [500, 200]
            assert len(client.get("/actions").json()) == 2
