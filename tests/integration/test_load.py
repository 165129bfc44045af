"""End to end: the `np6` command, the local NP6 sandbox over HTTP and a real DuckDB file.

Every check compares what landed with the sandbox's own data (its ground-truth API), never
with numbers copied from the code.
"""

from __future__ import annotations

import pendulum
import pytest

from sources.np6_sandbox import Faults
from tests import truth
from tests.truth import TABLE_TYPES, ms

START, END = "2026-10-01", "2026-10-04"
# The event feeds (and actions): what these tests are about. The default resources as a whole are
# tested in test_every_resource; leaving contacts and exports out keeps these loads quick.
FEEDS = ("--resources", "actions,hits,activations,bounces,cancellations,executions,other_events,notification_events")


def expected_ids(account, table: str, start: str = START, end: str = END, **kw) -> set[str]:
    return truth.expected_ids(account, table, start, end, **kw)


def assert_exact(ws, account, start: str = START, end: str = END, **kw) -> None:
    truth.assert_exact(ws, account, start, end, **kw)


def one_line_error(result, *, code: int, must: tuple[str, ...], key: str) -> None:
    assert result.code == code, result.output
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert len(lines) == 1, result.err
    assert "Traceback" not in result.output
    assert key not in result.output
    for word in must:
        assert word in lines[0], lines[0]


def test_backfill_loads_exactly_the_servers_events(sandbox, workspace):
    ws = workspace(sandbox.url, sandbox.api_key)
    result = ws.np6("load", "--start", START, "--end", END, *FEEDS)
    assert result.code == 0, result.output
    assert_exact(ws, sandbox.account)
    assert {a["id"] for a in sandbox.account.actions()} == set(ws.ids("actions"))
    assert ws.ids("other_events")


def test_rerun_of_the_same_range_adds_no_rows(sandbox, workspace):
    ws = workspace(sandbox.url, sandbox.api_key)
    assert ws.np6("load", "--start", START, "--end", END, *FEEDS).code == 0
    before = {t: ws.query(f"SELECT count(*) FROM np6.{t}")[0][0] for t in TABLE_TYPES}
    again = ws.np6("load", "--start", START, "--end", END, "--window", "6h", *FEEDS)
    assert again.code == 0, again.output
    after = {t: ws.query(f"SELECT count(*) FROM np6.{t}")[0][0] for t in TABLE_TYPES}
    assert before == after
    assert_exact(ws, sandbox.account)


def test_windows_split_on_busy_milliseconds_lose_nothing(sandbox, workspace):
    # one-hour windows put many window edges on the sandbox's same-millisecond bursts
    ws = workspace(sandbox.url, sandbox.api_key)
    result = ws.np6("load", "--start", START, "--end", "2026-10-02", "--window", "1h", *FEEDS)
    assert result.code == 0, result.output
    assert_exact(ws, sandbox.account, START, "2026-10-02")
    windows = ws.query("SELECT count(*), sum(rows) FROM np6._np6_windows WHERE resource = 'events'")[0]
    assert windows[0] == 24


def test_subset_of_resources_uses_per_type_feeds(sandbox, workspace):
    ws = workspace(sandbox.url, sandbox.api_key)
    result = ws.np6("load", "--start", START, "--end", END, "--resources", "bounces")
    assert result.code == 0, result.output
    assert set(ws.ids("bounces")) == expected_ids(sandbox.account, "bounces", push_events=False)
    tables = {r[0] for r in ws.query("SELECT table_name FROM duckdb_tables() WHERE schema_name='np6'")}
    assert "hits" not in tables and "actions" not in tables


def test_per_action_extraction(sandbox, workspace):
    action = sandbox.account.actions()[0]["id"]
    ws = workspace(sandbox.url, sandbox.api_key)
    result = ws.np6("load", "--start", START, "--end", END, "--actions", action,
                    "--resources", "hits,activations")
    assert result.code == 0, result.output
    for table in ("hits", "activations"):
        want = sandbox.account.event_ids(ms(START), ms(END), types=[TABLE_TYPES[table]], action_id=action)
        assert want and set(ws.ids(table)) == want


def test_second_scheduled_run_reads_only_new_windows(make_sandbox, workspace):
    start = pendulum.now("UTC").start_of("hour").subtract(days=3)  # >= 3 day windows at any hour
    box = make_sandbox(start=start, days=4)
    ws = workspace(box.url, box.api_key, SOURCES__NP6__START_DATE=start.to_iso8601_string())
    first = ws.np6("load", *FEEDS)
    assert first.code == 0, first.output
    feed_requests = lambda: box.server.stats()["by_route"].get("/actions/events", 0)  # noqa: E731
    after_first = feed_requests()
    assert after_first >= 3
    second = ws.np6("load", *FEEDS)
    assert second.code == 0, second.output
    assert 1 <= feed_requests() - after_first <= 2  # the lookback window and the new one
    loaded = set(ws.ids("activations"))
    now = pendulum.now("UTC")
    assert loaded <= expected_ids(box.account, "activations", start.to_iso8601_string(), now.to_iso8601_string())
    settled = now.subtract(minutes=15)  # older than the safety margin at the time of the run
    assert expected_ids(box.account, "activations", start.to_iso8601_string(), settled.to_iso8601_string()) <= loaded


def test_rate_limits_and_server_errors_are_survived(make_sandbox, workspace):
    box = make_sandbox(faults=Faults(rate_limit=8, rate_window_s=1.0, rate_headers=False, error_rate=0.25, seed=3))
    # every default resource, with few contacts: one request per contact at 8 requests/s is slow
    ws = workspace(box.url, box.api_key, SOURCES__NP6__MAX_TARGETS="40")
    result = ws.np6("load", "--start", START, "--end", END)
    assert result.code == 0, result.output
    assert_exact(ws, box.account)
    assert 0 < ws.query("SELECT count(*) FROM np6.targets")[0][0] <= 40
    statuses = {entry["status"] for entry in box.server.stats()["log"]}
    assert {429, 200} <= statuses and any(s >= 500 for s in statuses)


def test_rejected_key_fails_cleanly(sandbox, workspace):
    key = "wrong-key-7f3a9c1e5b"
    ws = workspace(sandbox.url, key)
    result = ws.np6("load", "--start", START, "--end", END)
    one_line_error(result, code=1, must=("401", "/actions"), key=key)


def test_unreachable_host_fails_cleanly(workspace):
    ws = workspace("http://127.0.0.1:9", "some-key-0123456789")
    result = ws.np6("load", "--start", START, "--end", END)
    one_line_error(result, code=1, must=("127.0.0.1:9",), key="some-key-0123456789")


@pytest.mark.parametrize(
    "args, word",
    [
        (("--start", "2026-13-45"), "2026-13-45"),
        (("--start", "2026-10-05", "--end", "2026-10-01"), "not after"),
        (("--resources", "hits,nope"), "nope"),
    ],
    ids=["bad-date", "end-before-start", "unknown-resource"],
)
def test_bad_arguments_fail_fast(sandbox, workspace, args, word):
    ws = workspace(sandbox.url, sandbox.api_key)
    result = ws.np6("load", *args)
    one_line_error(result, code=2, must=(word,), key=sandbox.api_key)
    assert sandbox.server.stats()["requests"] == 0
