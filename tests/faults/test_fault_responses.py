"""Bad answers from NP6 (sandbox fault knobs) through the real `np6` command into DuckDB.

Each fault is either survived (bounded retries, then the exact data) or ends the run with one
line naming the endpoint and window; a bad element is kept in `_np6_rejected`. Nothing is lost
silently.
"""

from __future__ import annotations

import json

import pytest

from sources.np6_sandbox import Faults
from tests.faults.helpers import FAST, SMALL, assert_exact, load, ms, one_line_error

FAST_RETRIES = {"SOURCES__NP6__MAX_ATTEMPTS": "3", "SOURCES__NP6__BACKOFF_BASE": "0.05", **FAST}


@pytest.mark.parametrize("kind", ["truncated", "content_type"])
def test_spoiled_bodies_are_read_again(make_sandbox, workspace, kind):
    box = make_sandbox(faults=Faults(bad_body=kind, bad_body_first=2), **SMALL)
    ws = workspace(box.url, box.api_key, **FAST_RETRIES)
    result = load(ws)
    assert result.code == 0, result.output
    assert_exact(ws, box.account)
    assert "reading it again" in result.err or "not JSON" in result.err


@pytest.mark.parametrize("kind", ["html"])
def test_always_spoiled_bodies_fail_with_one_line(make_sandbox, workspace, kind):
    box = make_sandbox(faults=Faults(bad_body=kind), **SMALL)
    ws = workspace(box.url, box.api_key, **FAST_RETRIES)
    result = load(ws)
    line = one_line_error(result, code=1, key=box.api_key,
                          must=("/actions/events", "[2026-10-0", "not JSON", "run again"))
    assert "gave up after 3 attempts" in line


def test_bad_elements_are_kept_in_np6_rejected_and_the_load_goes_on(make_sandbox, workspace):
    at = ms("2026-10-01T12:00:00Z")
    box = make_sandbox(faults=Faults(bad_events_ms=at), **SMALL)
    ws = workspace(box.url, box.api_key, **FAST)
    result = load(ws)
    assert result.code == 0, result.output
    assert_exact(ws, box.account)
    # the robot pass reads the window again and meets the same bad elements: kept apart, per endpoint
    rejected = ws.query("SELECT reason, raw, endpoint FROM np6._np6_rejected WHERE endpoint = '/actions/events' "
                        "ORDER BY reason")
    assert [r[0] for r in rejected] == ["missing or non-integer 'timestamp'", "missing, empty or non-string 'id'"]
    assert {json.loads(r[1])["type"] for r in rejected} == {"activation"}
    assert {r[2] for r in rejected} == {"/actions/events"}
    assert "Rejected rows (kept in _np6_rejected with reason and raw JSON): 4" in result.out
    # the far-future event (new type, new field) is valid: loaded once; windows ignore its timestamp
    future = ws.query(f"SELECT extra FROM np6.other_events WHERE id = 'sandbox-future-{at}'")
    assert len(future) == 1 and json.loads(future[0][0])["channelV2"] == "rcs"  # drift kept in extra
    assert ws.query("SELECT max(window_end) FROM np6._np6_windows")[0][0].year == 2026
    # a number where the reference documents a string: kept as text, and reported, not silent
    kind = ws.query(f"SELECT activation_kind FROM np6.executions WHERE id = 'sandbox-type-change-{at}'")
    assert kind == [("7",)]
    note = "executions.activation_kind: int where NP6 documents text (1 value, stored as JSON text)"
    assert ws.query("SELECT type_changes FROM np6._np6_windows WHERE type_changes IS NOT NULL "
                    "AND resource = 'events'") == [(note,)]  # (the robot pass meets it too)
    assert "type change on GET /actions/events" in result.err and note in result.err
