"""DuckDB loads under a memory limit: ours by default, the user's when configured."""

from __future__ import annotations

import json

import pytest

from pipelines.np6_pipeline import DUCKDB_GLOBAL_CONFIG_ENV, make_pipeline


def _memory_limit(tmp_path, monkeypatch) -> str:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / "dlt"))
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(tmp_path / "warehouse.duckdb"))
    pipeline = make_pipeline(pipelines_dir=str(tmp_path / "dlt" / "pipelines"))
    with pipeline.sql_client() as client:
        return client.execute_sql("SELECT current_setting('memory_limit')")[0][0]


def test_duckdb_loads_within_512mb_by_default(tmp_path, monkeypatch):
    monkeypatch.setenv(DUCKDB_GLOBAL_CONFIG_ENV, "{}")  # recorded, so the default set below is undone
    monkeypatch.delenv(DUCKDB_GLOBAL_CONFIG_ENV)
    assert _memory_limit(tmp_path, monkeypatch) == "488.2 MiB"  # 512 MB as DuckDB prints it


@pytest.mark.parametrize("limit, shown", [("1GB", "953.6 MiB"), ("2GB", "1.8 GiB")])
def test_a_configured_duckdb_memory_limit_wins(tmp_path, monkeypatch, limit, shown):
    monkeypatch.setenv(DUCKDB_GLOBAL_CONFIG_ENV, json.dumps({"memory_limit": limit}))
    assert _memory_limit(tmp_path, monkeypatch) == shown
