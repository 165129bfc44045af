"""Run the real `np6` command against the local NP6 sandbox and a real DuckDB file."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from tests.cli import CliResult, job_env, run_np6

@dataclass
class Workspace:
    """A working directory unrelated to the repo, with its own DuckDB file and dlt data dir."""

    root: Path
    env: dict[str, str]

    @property
    def duckdb(self) -> Path:
        return self.root / "warehouse.duckdb"

    def np6(self, *args: str, timeout: float = 300) -> CliResult:
        return run_np6(list(args), cwd=self.root, env=self.env, timeout=timeout)

    def query(self, sql: str) -> list[tuple]:
        with duckdb.connect(str(self.duckdb), read_only=True) as con:
            return con.sql(sql).fetchall()

    def ids(self, table: str) -> list[str]:
        return [r[0] for r in self.query(f"SELECT id FROM np6.{table}")]


@pytest.fixture
def workspace(tmp_path: Path) -> Callable[..., Workspace]:
    """Factory: a workspace pointed at a sandbox (url, key); env as a scheduled job would set it."""

    def make(url: str, api_key: str, **extra: str) -> Workspace:
        root = tmp_path / "job"
        root.mkdir(exist_ok=True)
        env = job_env(url, api_key, tmp_path / "dlt-data",
                      DESTINATION__DUCKDB__CREDENTIALS=str(root / "warehouse.duckdb"), **extra)
        return Workspace(root, env)

    return make
