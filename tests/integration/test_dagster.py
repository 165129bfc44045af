"""The Dagster example materialises every family against the sandbox: one day's partition of the
windowed families, the dimensions, with the rows the sandbox holds for that day."""

from __future__ import annotations

import subprocess
import sys

import duckdb
import pytest

from tests import truth
from tests.cli import job_env

pytest.importorskip("dagster_dlt")  # installed by the test extra (pip install -e '.[test]')

DAY, NEXT = "2026-10-02", "2026-10-03"
MATERIALIZE = f"""
import dagster as dg
from pipelines.orchestrators.dagster_np6 import ASSETS, FAMILIES, PARTITIONED, defs
resources = {{"dlt": defs.resources["dlt"]}}
daily = [a for a, f in zip(ASSETS, FAMILIES) if f in PARTITIONED]
others = [a for a, f in zip(ASSETS, FAMILIES) if f not in PARTITIONED]
assert dg.materialize(others, resources=resources).success
assert dg.materialize(daily, resources=resources, partition_key="{DAY}").success
"""


def test_the_dagster_example_materialises_a_day(sandbox, tmp_path):
    path = tmp_path / "dagster.duckdb"
    env = job_env(sandbox.url, sandbox.api_key, tmp_path / "dlt-data", DESTINATION__DUCKDB__CREDENTIALS=str(path),
                  RUNTIME__DLTHUB_TELEMETRY="false", DAGSTER_HOME=str(tmp_path), DAGSTER_DISABLE_TELEMETRY="1",
                  SOURCES__NP6__DECODE_WORKERS="0", SOURCES__NP6__START_DATE=DAY)
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    proc = subprocess.run([sys.executable, "-c", MATERIALIZE], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with duckdb.connect(str(path), read_only=True) as con:
        def ids(table: str) -> set[str]:
            return {r[0] for r in con.sql(f"SELECT id FROM np6.{table}").fetchall()}

        assert ids("hits") == truth.expected_ids(sandbox.account, "hits", DAY, NEXT)
        assert ids("actions") == {a["id"] for a in sandbox.account.actions()}
