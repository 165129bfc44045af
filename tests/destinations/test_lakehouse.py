"""A lakehouse output: Parquet files (and Delta tables) in a local folder, read back by DuckDB.

The `filesystem` destination with a `file://` bucket stands for any object store (s3://, gs://,
az://): only the bucket URL and its credentials change.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import yaml

from tests.truth import TABLE_TYPES, expected_ids


REPO = Path(__file__).resolve().parents[2]
START, END = "2026-10-01", "2026-10-04"
FEEDS = "actions,hits,activations,bounces,cancellations,executions,other_events,notification_events"
SHIPPED = yaml.safe_load((REPO / "schemas" / "import" / "np6.schema.yaml").read_text())["tables"]
# dlt data type -> the DuckDB type of the Parquet column it is written as
DUCKDB_TYPES = {"text": "VARCHAR", "timestamp": "TIMESTAMP WITH TIME ZONE", "bigint": "BIGINT",
                "json": "JSON", "double": "DOUBLE", "bool": "BOOLEAN"}


def parquet(lake: Path, dataset: str, table: str) -> str:
    return str(lake / dataset / table / "*.parquet")


def test_filesystem_parquet_read_back_by_duckdb(sandbox, warehouse):
    wh = warehouse(sandbox.url, sandbox.api_key)
    result = wh.np6("--destination", "filesystem", "--start", START, "--end", END)
    assert result.code == 0, result.output
    assert wh.lake.as_uri() in result.out
    con = duckdb.connect()
    for table in TABLE_TYPES:
        ids = [r[0] for r in con.sql(f"SELECT id FROM read_parquet('{parquet(wh.lake, wh.dataset, table)}')").fetchall()]
        assert len(ids) == len(set(ids)), table
        assert set(ids) == expected_ids(sandbox.account, table, START, END), table
    hits = con.sql(f"DESCRIBE SELECT * FROM read_parquet('{parquet(wh.lake, wh.dataset, 'hits')}')").fetchall()
    got = [(name, kind) for name, kind, *_ in hits]
    want = [(name, DUCKDB_TYPES[spec["data_type"]]) for name, spec in SHIPPED["hits"]["columns"].items()]
    # Parquet keeps JSON as text; every other column keeps the contract's name, order and type
    assert [(n, "JSON" if n == "extra" else t) for n, t in got] == want


def test_delta_tables_keep_one_row_per_id(sandbox, warehouse):
    from deltalake import DeltaTable

    wh = warehouse(sandbox.url, sandbox.api_key)
    first = wh.np6("--destination", "filesystem", "--table-format", "delta", "--start", START, "--end", END)
    assert first.code == 0, first.output
    # the same range again in other windows (the event feeds only): Delta tables merge (upsert) on id
    again = wh.np6("--destination", "filesystem", "--table-format", "delta", "--start", START, "--end", END,
                   "--window", "6h", "--resources", FEEDS)
    assert again.code == 0, again.output
    con = duckdb.connect()
    for table in TABLE_TYPES:
        files = DeltaTable(str(wh.lake / wh.dataset / table)).file_uris()
        ids = [r[0] for r in con.sql("SELECT id FROM read_parquet(?)", params=[files]).fetchall()]
        assert len(ids) == len(set(ids)), table
        assert set(ids) == expected_ids(sandbox.account, table, START, END), table
    actions = DeltaTable(str(wh.lake / wh.dataset / "actions")).to_pyarrow_table()
    assert sorted(actions.column("id").to_pylist()) == sorted(a["id"] for a in sandbox.account.actions())
    # exports and contacts read the event tables back through DuckDB, which needs its `delta`
    # extension (downloaded on first use): without it they say so once each and the run succeeds
    if not (wh.lake / wh.dataset / "action_recipients").exists():
        warned = [line for line in first.err.splitlines() if "cannot be read back" in line]
        assert {line.split()[2] for line in warned} == {"action_recipients", "action_openers",
                                                        "action_clickers", "targets"}, first.err
