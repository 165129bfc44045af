"""End to end: the operator's commands against the sandbox and a real DuckDB file: the run
summary as JSON, the cursors and their reset, the key check, verify and repair."""

from __future__ import annotations

import json

import duckdb

from sources.np6.registry import RESOURCE_NAMES
from sources.np6_sandbox import Faults
from tests import truth

START, END = "2026-10-01", "2026-10-04"
FEEDS = "hits,activations,bounces,cancellations,executions,other_events"


def test_summary_json_says_what_the_run_did(sandbox, workspace):
    ws = workspace(sandbox.url, sandbox.api_key)
    out = ws.root / "summary.json"
    result = ws.np6("load", "--start", START, "--end", END, "--resources", FEEDS, "--summary-json", str(out))
    assert result.code == 0, result.output
    summary = json.loads(out.read_text())
    assert summary["exit_code"] == 0 and summary["backfill"] is True
    assert summary["rows"]["hits"] == len(truth.expected_ids(sandbox.account, "hits", START, END, push_events=False))
    assert summary["feed_windows"] == {"planned": 3, "loaded": 3, "next": None}
    assert summary["requests"]["requests"] >= 3 and summary["unavailable"] == {} and summary["failed"] == {}


def test_state_shows_and_resets_cursors_the_dlt_way(sandbox, workspace):
    ws = workspace(sandbox.url, sandbox.api_key, SOURCES__NP6__START_DATE=START)
    assert ws.np6("load", "--resources", FEEDS).code == 0
    shown = ws.np6("state", "--json")
    assert shown.code == 0, shown.output
    cursors = {row["resource"]: row["cursor"] for row in json.loads(shown.out)}
    assert set(cursors) == set(FEEDS.split(",")) and all(cursors.values())
    reset = ws.np6("state", "reset", "hits")
    assert reset.code == 0 and "cursors forgotten: hits" in reset.out, reset.output
    after = {row["resource"] for row in json.loads(ws.np6("state", "--json").out)}
    assert after == set(FEEDS.split(",")) - {"hits"}
    unknown = ws.np6("state", "reset", "nosuch")
    assert unknown.code == 2 and "no cursor for nosuch" in unknown.err


def test_check_names_what_the_key_can_read(make_sandbox, workspace):
    sandbox = make_sandbox(faults=Faults(route_status={"/actions/archives": 403, "/targets/redlist/mail": 404}))
    ws = workspace(sandbox.url, sandbox.api_key)
    result = ws.np6("check", "--json")
    assert result.code == 0, result.output
    status = {row["resource"]: row["status"] for row in json.loads(result.out)["resources"]}
    assert status["archives"] == "403" and status["redlists"] == "404" and status["hits"] == "ok"
    assert set(status) == set(RESOURCE_NAMES)
    bad = workspace(sandbox.url, "wrong-key").np6("check")
    assert bad.code == 1 and "401" in bad.err and "wrong-key" not in bad.output


def test_verify_finds_deleted_rows_and_repair_restores_them(sandbox, workspace):
    ws = workspace(sandbox.url, sandbox.api_key)
    assert ws.np6("load", "--start", START, "--end", END, "--resources", FEEDS).code == 0
    clean = ws.np6("verify", "--start", START, "--end", END)
    assert clean.code == 0 and "matches NP6" in clean.out, clean.output
    with duckdb.connect(str(ws.duckdb)) as con:
        con.execute("DELETE FROM np6.hits WHERE id IN (SELECT id FROM np6.hits WHERE \"timestamp\" < "
                    "'2026-10-02' LIMIT 5)")
        con.execute("INSERT INTO np6.bounces SELECT * REPLACE ('not-an-np6-id' AS id) FROM np6.bounces "
                    "WHERE \"timestamp\" >= '2026-10-03' LIMIT 1")
    found = ws.np6("verify", "--start", START, "--end", END)
    assert found.code == 1, found.output
    assert "differs [2026-10-01T00:00:00Z, 2026-10-02T00:00:00Z): hits: 5 missing, 0 extra" in found.out
    assert "bounces: 0 missing, 1 extra" in found.out and "2026-10-02T00:00:00Z, 2026-10-03" not in found.out
    repaired = ws.np6("verify", "--start", START, "--end", END, "--repair")
    assert repaired.code == 0, repaired.output
    truth.assert_exact(ws, sandbox.account, START, END, push_events=False)


def test_resources_json_is_the_registry(sandbox, workspace):
    result = workspace(sandbox.url, sandbox.api_key).np6("resources", "--json")
    rows = json.loads(result.out)
    assert [r["name"] for r in rows] == list(RESOURCE_NAMES)
    assert {r["phase"] for r in rows} == {"events", "after"}


def test_resources_from_the_environment_are_honoured_and_a_flag_wins(sandbox, workspace):
    ws = workspace(sandbox.url, sandbox.api_key, SOURCES__NP6__RESOURCES="segments,fields")
    assert ws.np6("load").code == 0
    tables = {r[0] for r in ws.query("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'np6' "
                                     "AND table_name NOT LIKE '\\_%' ESCAPE '\\'")}
    assert tables == {"segments", "fields"}
    assert ws.np6("load", "--resources", "imports").code == 0
    tables = {r[0] for r in ws.query("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'np6' "
                                     "AND table_name NOT LIKE '\\_%' ESCAPE '\\'")}
    assert tables == {"segments", "fields", "imports"}
