"""Rate limits, slow windows and oversized answers, through the real `np6` command into DuckDB."""

from __future__ import annotations

from sources.np6_sandbox import Faults
from tests.faults.helpers import FAST, SMALL, assert_exact, load, one_line_error

QUICK = {"SOURCES__NP6__BACKOFF_BASE": "0.05", **FAST}


def test_a_sustained_429_storm_only_slows_the_run(make_sandbox, workspace):
    # 2 requests a second, no Retry-After: the client must pace itself on X-RateLimit-* alone
    box = make_sandbox(faults=Faults(rate_limit=2, rate_window_s=1.0, retry_after=False), **SMALL)
    ws = workspace(box.url, box.api_key, **QUICK)
    result = load(ws, "--window", "12h")
    assert result.code == 0, result.output
    assert_exact(ws, box.account)
    assert "Waited " in result.out and "rate-limit pauses" in result.out


def test_rate_limit_budget_gives_up_with_where_to_resume(make_sandbox, workspace):
    # one window passes (the feed and its robot pass), then 429 for a minute: over
    # max_total_wait=2 s the run stops
    box = make_sandbox(faults=Faults(rate_limit=2, rate_window_s=60), **SMALL)
    ws = workspace(box.url, box.api_key, SOURCES__NP6__MAX_WAIT="1", SOURCES__NP6__MAX_TOTAL_WAIT="2",
                   **QUICK)
    result = load(ws, "--window", "1d", "--commit-every", "1")
    line = one_line_error(result, code=1, key=box.api_key, must=("429", "/actions/events",
                          "max_total_wait=2", "1 of 2 windows are loaded",
                          "run again to continue from 2026-10-02T00:00:00Z"))
    assert line.count("[2026-10-02T00:00:00Z, 2026-10-03T00:00:00Z)") == 1
    box.server.set_faults(None)
    again = load(ws, "--window", "1d", "--commit-every", "1")
    assert again.code == 0, again.output
    assert_exact(ws, box.account)


def test_windows_that_time_out_are_read_in_halves(make_sandbox, workspace):
    box = make_sandbox(faults=Faults(slow_over_hours=6, slow_s=4), **SMALL)
    ws = workspace(box.url, box.api_key, SOURCES__NP6__TIMEOUT="1", **QUICK)
    result = load(ws, "--window", "1d")
    assert result.code == 0, result.output
    assert_exact(ws, box.account)
    pieces = ws.query("SELECT status, split_from, window_end - window_start FROM np6._np6_windows "
                      "WHERE resource = 'events'")
    assert len(pieces) == 8
    robots = ws.query("SELECT status, window_end - window_start FROM np6._np6_windows WHERE resource = 'hits:robots'")
    assert {(r[0], str(r[1])) for r in robots} == {("split", "6:00:00")} and len(robots) == 8
    assert {(p[0], str(p[2])) for p in pieces} == {("split", "6:00:00")}
    assert {p[1] for p in pieces} == {"[2026-10-01T00:00:00Z, 2026-10-02T00:00:00Z)",
                                      "[2026-10-02T00:00:00Z, 2026-10-03T00:00:00Z)"}


def test_a_window_at_the_minimum_that_times_out_fails_with_one_line(make_sandbox, workspace):
    box = make_sandbox(faults=Faults(slow_over_hours=0, slow_s=3), **SMALL)
    ws = workspace(box.url, box.api_key, SOURCES__NP6__TIMEOUT="0.5", SOURCES__NP6__MIN_WINDOW="12h",
                   SOURCES__NP6__MAX_ATTEMPTS="2", **QUICK)
    result = load(ws, "--window", "1d", end="2026-10-02")
    one_line_error(result, code=1, key=box.api_key, must=(
        "no answer within 0.5 s", "/actions/events", "[2026-10-01T00:00:00Z, 2026-10-01T12:00:00Z)",
        "gave up after 2 attempts", "no window of this run is loaded yet"))


def test_answers_over_max_body_bytes_are_split(make_sandbox, workspace):
    box = make_sandbox(**SMALL)
    ws = workspace(box.url, box.api_key, SOURCES__NP6__MAX_BODY_BYTES="300000", **FAST)
    result = load(ws, "--window", "1d")
    assert result.code == 0, result.output
    assert_exact(ws, box.account)
    statuses = ws.query("SELECT status, count(*) FROM np6._np6_windows GROUP BY ALL")
    assert dict(statuses).get("split", 0) >= 4
