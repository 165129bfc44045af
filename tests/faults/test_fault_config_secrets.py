"""Configuration mistakes fail fast with one line; the API key never lands anywhere."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from sources.np6.registry import RESOURCE_NAMES
from sources.np6_sandbox import Faults
from tests import truth
from tests.faults.helpers import END, FAST, SMALL, START, load, one_line_error

SECRET = "NP6-SECRET-kq83hf72ns0c"


@pytest.mark.parametrize(
    "env, word",
    [
        ({"SOURCES__NP6__API_KEY": " "}, "no NP6 API key"),
        ({"SOURCES__NP6__BASE_URL": "api-cm.np6.com/no-scheme"}, "is not an http(s) URL"),
    ],
    ids=["missing-key", "malformed-base-url"],
)
def test_config_mistakes_fail_fast(sandbox, workspace, env, word):
    ws = workspace(sandbox.url, sandbox.api_key, **FAST)
    ws.env.update(env)
    result = load(ws)
    one_line_error(result, code=2, must=(word,), key=sandbox.api_key)
    assert sandbox.server.stats()["requests"] == 0


def test_the_key_appears_in_no_output_file_or_table(make_sandbox, workspace):
    faults = Faults(rate_limit=15, rate_window_s=1.0, fail_first=2, seed=5)  # 500s for sure, 429s likely
    box = make_sandbox(faults=faults, api_key=SECRET, **SMALL)
    ws = workspace(box.url, box.api_key, SOURCES__NP6__BACKOFF_BASE="0.05", RUNTIME__LOG_LEVEL="DEBUG",
                   SOURCES__NP6__MAX_TARGETS="25", **FAST)
    # every resource, opt-in ones included: each family's requests, logs and tables are searched
    result = ws.np6("load", "--start", START, "--end", END, "--window", "12h", "-v",
                    "--resources", ",".join(RESOURCE_NAMES))
    assert result.code == 0, result.output
    truth.assert_exact(ws, box.account, START, END)
    assert ws.query("SELECT count(*) FROM np6.targets")[0][0] > 0
    assert set(box.server.stats()["by_status"]) - {"200"}  # faults were served (and logged)
    assert SECRET not in result.output
    root = Path(ws.env["DLT_DATA_DIR"]).parent
    files = [p for p in root.rglob("*") if p.is_file()]
    assert any(p.suffix == ".duckdb" for p in files) and len(files) > 5
    for path in files:
        assert SECRET.encode() not in path.read_bytes(), path
    with duckdb.connect(str(ws.duckdb), read_only=True) as con:
        tables = con.sql("SELECT schema_name, table_name FROM duckdb_tables()").fetchall()
        for schema, table in tables:
            hits = con.sql(f'SELECT count(*) FROM "{schema}"."{table}" t WHERE t::VARCHAR LIKE ?',
                           params=[f"%{SECRET}%"]).fetchall()
            assert hits == [(0,)], table
