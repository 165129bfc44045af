"""End to end: one run, planned once. Optional endpoints NP6 refuses, relative backfills, dlt's
own `drop`, tables dropped behind dlt's back. Each runs the real `np6` command against the
sandbox and compares what landed with the sandbox's ground truth."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import datetime, timezone

import duckdb
import pendulum

from sources.np6_sandbox import Faults
from sources.np6_sandbox.management import dimension
from tests import truth
from tests.truth import TABLE_TYPES

START, END = "2026-10-01", "2026-10-04"
REFUSED = {
    "/targets/redlist/mail": 404,
    "/actions/archives": 403,
    "/actions": 404,  # the deprecated action list
    "/notifications": 403,
    "/actions/{id}/export/tracking/opens": 403,
    "/actions/{id}/export/tracking/clicks": 404,
}
DLT = shutil.which("dlt", path=os.path.dirname(sys.executable)) or "dlt"


def test_optional_endpoints_refused_leave_every_event_loaded(make_sandbox, workspace):
    sandbox = make_sandbox(faults=Faults(route_status=REFUSED))
    ws = workspace(sandbox.url, sandbox.api_key)
    result = ws.np6("load", "--start", START, "--end", END)
    assert result.code == 0, result.output
    truth.assert_exact(ws, sandbox.account, START, END, push_events=False)  # /notifications refused
    for name in ("redlists", "archives", "actions", "notification_events", "notifications"):
        assert f"Unavailable (NP6 answered 403/404; nothing else was asked): {name}:" in result.out, name
    rows = ws.query("SELECT resource, status, endpoint FROM np6._np6_windows WHERE status = 'unavailable' "
                    "ORDER BY resource")
    assert {r[0] for r in rows} == {"actions", "archives", "notification_events", "notifications", "redlists"}
    assert ("redlists", "unavailable", "/targets/redlist/mail") in rows
    # refused exports fall back to the loaded events, and say so
    sources = ws.query("SELECT DISTINCT source FROM np6.action_openers UNION SELECT DISTINCT source "
                       "FROM np6.action_clickers")
    assert sources == [("derived",)]
    assert ws.query("SELECT count(*) FROM np6.action_recipients")[0][0] > 0
    # a refused route is not asked again once it answered: the exports already in flight (one per
    # concurrent request) are the only ones sent
    by_route = sandbox.server.stats()["by_route"]
    assert 1 <= by_route.get("/actions/{id}/export/tracking/opens", 0) <= 4, by_route
    assert by_route.get("/targets/redlist/mail") == 1, by_route
    strict = ws.np6("load", "--start", START, "--end", END, "--strict")
    assert strict.code == 1, strict.output
    assert "unavailable resource(s) with strict on" in strict.err and "Traceback" not in strict.output


def test_a_required_feed_refused_fails_alone(make_sandbox, workspace):
    sandbox = make_sandbox(faults=Faults(route_status={"/actions/events": 403}))
    ws = workspace(sandbox.url, sandbox.api_key)
    result = ws.np6("load", "--start", START, "--end", END, "--resources", "hits,activations,bounces,"
                    "cancellations,executions,other_events,segments")
    assert result.code == 1, result.output
    assert "1 resource(s) failed (events)" in result.err and len(result.err.strip().splitlines()) == 1
    assert ws.query("SELECT count(*) FROM np6.segments")[0][0] == len(dimension(sandbox.account, "segments"))


def recent_sandbox(make_sandbox, days: int = 10):
    """An account whose events end today: relative dates reach it."""
    today = pendulum.today("UTC")
    return make_sandbox(start=datetime.fromtimestamp(today.subtract(days=days).timestamp(), timezone.utc), days=days)


def test_a_relative_backfill_finishes_with_exactly_its_events(make_sandbox, workspace):
    sandbox = recent_sandbox(make_sandbox)
    ws = workspace(sandbox.url, sandbox.api_key)
    feeds = "hits,activations,bounces,cancellations,executions,other_events"
    result = ws.np6("load", "--start=-20d", "--resources", feeds, "--commit-every", "3")
    assert result.code == 0, result.output
    assert "21 of 21 windows loaded" in result.out  # 20 days from an unaligned instant: 21 windows
    start, end = pendulum.today("UTC").subtract(days=10), pendulum.today("UTC")
    truth.assert_exact(ws, sandbox.account, start.to_date_string(), end.to_date_string(), push_events=False)


def test_dlt_drop_resets_exactly_that_resource_and_the_next_load_restores_it(make_sandbox, workspace):
    sandbox = recent_sandbox(make_sandbox, days=3)
    ws = workspace(sandbox.url, sandbox.api_key, SOURCES__NP6__START_DATE="-4d")
    feeds = "hits,activations,bounces,cancellations,executions,other_events"
    assert ws.np6("load", "--resources", feeds).code == 0
    hits = sorted(ws.ids("hits"))
    assert hits
    dropped = subprocess.run([DLT, "--yes", "pipeline", "np6", "drop", "hits"], cwd=ws.root, env=ws.env,
                             capture_output=True, text=True, timeout=120)
    assert dropped.returncode == 0, dropped.stdout + dropped.stderr
    tables = {r[0] for r in ws.query("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'np6'")}
    assert "hits" not in tables and "activations" in tables
    again = ws.np6("load", "--resources", feeds)
    assert again.code == 0, again.output
    assert sorted(ws.ids("hits")) == hits  # every hit is back, none twice
    start = pendulum.today("UTC").subtract(days=3).to_date_string()
    truth.assert_exact(ws, sandbox.account, start, pendulum.today("UTC").to_date_string(), push_events=False)


def test_a_table_dropped_by_hand_is_reloaded_with_a_warning(sandbox, workspace):
    ws = workspace(sandbox.url, sandbox.api_key, SOURCES__NP6__START_DATE=START, SOURCES__NP6__WINDOW="7d")
    feeds = ("--resources", "hits,activations,bounces,cancellations,executions,other_events,segments")
    assert ws.np6("load", *feeds).code == 0  # scheduled: every table has its cursor
    with duckdb.connect(str(ws.duckdb)) as con:
        con.execute("DROP TABLE np6.activations")
        con.execute("DELETE FROM np6.bounces")
        con.execute("DROP TABLE np6.segments")
    again = ws.np6("load", *feeds)
    assert again.code == 0, again.output
    for name in ("activations", "bounces", "segments"):
        assert f"{name}: table" in again.err, again.err
    truth.assert_exact(ws, sandbox.account, START, END, push_events=False)  # the sandbox ends at END
    assert ws.query("SELECT count(*) FROM np6.segments")[0][0] == len(dimension(sandbox.account, "segments"))


def test_the_deadline_stops_a_run_cleanly_and_the_next_one_continues(make_sandbox, workspace):
    sandbox = make_sandbox(faults=Faults(latency_ms=700))
    ws = workspace(sandbox.url, sandbox.api_key)
    feeds = "hits,activations,bounces,cancellations,executions,other_events"
    first = ws.np6("load", "--start", START, "--end", END, "--resources", feeds, "--window", "6h",
                   "--commit-every", "1", "--concurrency", "1", "--deadline", "3s")
    assert first.code == 3, first.output
    assert "stopped at the run's deadline" in first.err and "Traceback" not in first.output
    loaded = sum(len(ws.ids(t)) for t in TABLE_TYPES if t in {r[0] for r in ws.query(
        "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'np6'")})
    assert loaded < sum(len(truth.expected_ids(sandbox.account, t, START, END)) for t in TABLE_TYPES)
    sandbox.server.set_faults(Faults())
    rest = ws.np6("load", "--start", START, "--end", END, "--resources", feeds, "--window", "6h")
    assert rest.code == 0, rest.output
    truth.assert_exact(ws, sandbox.account, START, END, push_events=False)


def test_a_window_under_a_minute_or_too_many_windows_is_refused_at_once(sandbox, workspace):
    ws = workspace(sandbox.url, sandbox.api_key)
    for args, needle in ((["--window", "1ms"], "shorter than the minimum of 1m"),
                         (["--start", "2000-01-01", "--window", "1m"], "over the limit of 100,000")):
        result = ws.np6("load", *args)
        assert result.code == 2, result.output
        assert needle in result.err and len(result.err.strip().splitlines()) == 1
