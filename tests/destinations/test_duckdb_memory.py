"""A run's memory defaults: DuckDB's limit and threads, and glibc's trim threshold; the user's own settings win."""

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
        return client.execute_sql("SELECT current_setting('memory_limit'), current_setting('threads')::VARCHAR, "
                                  "current_setting('preserve_insertion_order')::VARCHAR")[0]


def test_duckdb_loads_within_128mb_on_one_thread_without_insertion_order_by_default(tmp_path, monkeypatch):
    monkeypatch.setenv(DUCKDB_GLOBAL_CONFIG_ENV, "{}")  # recorded, so the default set below is undone
    monkeypatch.delenv(DUCKDB_GLOBAL_CONFIG_ENV)
    assert _settings(tmp_path, monkeypatch) == ("122.0 MiB", "1", "false")  # 128 MB as DuckDB prints it


@pytest.mark.parametrize("limit, shown", [("1GB", "953.6 MiB"), ("2GB", "1.8 GiB")])
def test_a_configured_duckdb_memory_limit_wins(tmp_path, monkeypatch, limit, shown):
    monkeypatch.setenv(DUCKDB_GLOBAL_CONFIG_ENV, json.dumps({"memory_limit": limit}))
    assert _settings(tmp_path, monkeypatch)[0] == shown


class _Libc:
    """Records the allocator calls a run makes instead of making them."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []

    def mallopt(self, parameter: int, value: int) -> int:
        self.calls.append((parameter, value))
        return 1


def test_a_run_fixes_glibcs_trim_threshold_unless_the_environment_sets_one(monkeypatch):
    from pipelines import footprint
    from sources.np6 import decode

    libc = _Libc()
    monkeypatch.setattr(decode, "_LIBC", libc)
    monkeypatch.delenv(footprint.HEAP_TRIM_ENV, raising=False)
    footprint.heap_default()
    assert libc.calls == [(decode.M_TRIM_THRESHOLD, 128 << 10)]
    monkeypatch.setenv(footprint.HEAP_TRIM_ENV, "1048576")  # glibc already read the user's own
    footprint.heap_default()
    assert libc.calls == [(decode.M_TRIM_THRESHOLD, 128 << 10)]


def test_glibc_takes_the_trim_threshold():
    from sources.np6 import decode

    if decode._LIBC is None:
        pytest.fail("no glibc with malloc_trim on this machine: the run's heap defaults do nothing here")
    assert decode.trim_above(128 << 10)  # a real call: glibc answers 1 when it took the value
