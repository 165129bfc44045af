"""`np6 demo` on a small account: exact counts, no staging dataset left, next steps."""

from __future__ import annotations

import re

import duckdb

from tests.cli import job_env, run_np6


def test_demo_prints_exact_counts_and_leaves_only_np6(tmp_path):
    env = job_env("http://unused.invalid", "unused", tmp_path / "dlt-data")
    path = tmp_path / "demo.duckdb"
    result = run_np6(["demo", "--days", "2", "--events-per-day", "300", "--actions", "3", "--duckdb", str(path)],
                     cwd=tmp_path, env=env)
    assert result.code == 0, result.output
    block = result.out.split("(dataset np6):\n", 1)[1].split("\n\n", 1)[0]
    printed = dict(re.findall(r"^  (\w+)\s+(\d+)\s*$", block, flags=re.MULTILINE))
    with duckdb.connect(str(path), read_only=True) as con:
        assert {s for (s,) in con.sql("SELECT DISTINCT schema_name FROM duckdb_tables()").fetchall()} == {"np6"}
        for table in ("hits", "activations", "targets"):
            assert int(printed[table]) == con.sql(f"SELECT count(*) FROM np6.{table}").fetchall()[0][0] > 0
    assert "Next steps:" in result.out and "np6 report --out report.html" in result.out
