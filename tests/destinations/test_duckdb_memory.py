"""DuckDB loads under a memory limit: ours by default, the user's when configured."""

from __future__ import annotations

import json

import pytest

from pipelines.np6_pipeline import DUCKDB_GLOBAL_CONFIG_ENV, make_pipeline


def _settings(tmp_path, monkeypatch) -> tuple[str, str]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / "dlt"))
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(tmp_path / "warehouse.duckdb"))
    pipeline = make_pipeline(pipelines_dir=str(tmp_path / "dlt" / "pipelines"))
    with pipeline.sql_client() as client:
        return client.execute_sql("SELECT current_setting('memory_limit'), "
                                  "current_setting('preserve_insertion_order')::VARCHAR")[0]


def test_duckdb_loads_within_256mb_without_insertion_order_by_default(tmp_path, monkeypatch):
    monkeypatch.setenv(DUCKDB_GLOBAL_CONFIG_ENV, "{}")  # recorded, so the default set below is undone
    monkeypatch.delenv(DUCKDB_GLOBAL_CONFIG_ENV)
    assert _settings(tmp_path, monkeypatch) == ("244.1 MiB", "false")  # 256 MB as DuckDB prints it


@pytest.mark.parametrize("limit, shown", [("1GB", "953.6 MiB"), ("2GB", "1.8 GiB")])
def test_a_configured_duckdb_memory_limit_wins(tmp_path, monkeypatch, limit, shown):
    monkeypatch.setenv(DUCKDB_GLOBAL_CONFIG_ENV, json.dumps({"memory_limit": limit}))
    assert _settings(tmp_path, monkeypatch)[0] == shown
