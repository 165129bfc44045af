"""Fixtures for the warehouse destinations: a real PostgreSQL server and workspaces that run the
real `np6` command into it (or into a local Parquet/Delta lake).

`postgres_dsn` is a running server: `NP6_TEST_POSTGRES` when it answers, else the one
`.ci/postgres.sh` installs (Debian package) and starts on loopback. Each test gets its own
dataset (PostgreSQL schema), dropped afterwards with its staging schemas.
"""

from __future__ import annotations

import os
import re
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from tests.cli import NP6, CliResult, job_env, run_np6

REPO = Path(__file__).resolve().parents[2]


def _answers(dsn: str) -> bool:
    try:
        psycopg2.connect(dsn, connect_timeout=3).close()
    except psycopg2.OperationalError:
        return False
    return True


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    """A DSN of a running PostgreSQL server (started by `.ci/postgres.sh` if needed, and then
    stopped after the session: `make test` leaves no server behind)."""
    dsn = os.environ.get("NP6_TEST_POSTGRES", "")
    if dsn and _answers(dsn):
        yield dsn
        return
    script = str(REPO / ".ci" / "postgres.sh")
    proc = subprocess.run([script], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f".ci/postgres.sh failed:\n{proc.stderr}"
    found = re.search(r"NP6_TEST_POSTGRES='([^']+)'", proc.stdout)
    assert found, proc.stdout
    yield found.group(1)
    if "NP6_PG_STARTED=" in proc.stdout:
        subprocess.run([script, "stop"], capture_output=True, text=True, timeout=120)


@dataclass
class Warehouse:
    """A job directory whose `np6` runs load one PostgreSQL dataset (or a local lake)."""

    root: Path
    env: dict[str, str]
    dataset: str
    dsn: str

    @property
    def lake(self) -> Path:
        """The filesystem destination's bucket (a local folder)."""
        return self.root / "lake"

    def command(self, *args: str) -> list[str]:
        return [NP6, "load", "--dataset", self.dataset, *args]

    def np6(self, *args: str, timeout: float = 300) -> CliResult:
        """`np6 load --dataset <this dataset> ARGS` (add `--destination`)."""
        return run_np6(self.command(*args)[1:], cwd=self.root, env=self.env, timeout=timeout)

    def start(self, *args: str) -> subprocess.Popen[str]:
        """The same command in the background (parallel pipelines)."""
        return subprocess.Popen(self.command(*args), cwd=self.root, env=self.env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def query(self, sql: str, *params: Any) -> list[tuple]:
        with psycopg2.connect(self.dsn) as con, con.cursor() as cur:
            cur.execute(sql.replace("{ds}", self.dataset), params)
            return cur.fetchall()

    def ids(self, table: str) -> list[str]:
        return [r[0] for r in self.query(f"SELECT id FROM {{ds}}.{table}")]


@pytest.fixture
def warehouse(tmp_path: Path, postgres_dsn: str) -> Iterator[Any]:
    """Factory: `warehouse(url, api_key)` gives a job directory and a fresh dataset name."""
    made: list[Warehouse] = []

    def make(url: str, api_key: str, **extra: str) -> Warehouse:
        root = tmp_path / "job"
        root.mkdir(exist_ok=True)
        env = job_env(url, api_key, tmp_path / "dlt-data",
                      DESTINATION__POSTGRES__CREDENTIALS=postgres_dsn,
                      DESTINATION__FILESYSTEM__BUCKET_URL=(root / "lake").as_uri(), **extra)
        made.append(Warehouse(root, env, f"np6_{uuid.uuid4().hex[:10]}", postgres_dsn))
        return made[-1]

    yield make
    for wh in made:
        with psycopg2.connect(postgres_dsn) as con, con.cursor() as cur:
            cur.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE %s", (wh.dataset + "%",))
            for (schema,) in cur.fetchall():
                cur.execute(f'DROP SCHEMA "{schema}" CASCADE')
