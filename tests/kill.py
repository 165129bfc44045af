"""SIGKILL a running `np6 load` at a chosen moment of its load step, as a machine dies.

Shared by the kill tests and `benchmarks/soak_kill.py`. The process runs in its own process group
(`start`), so `os.killpg` also ends its decoding workers.

- PostgreSQL (`kill_at`): a separate connection polls `pg_stat_activity` until a backend runs the
  load's statement (`KillPoint`: a COPY into a table, the merge's DELETE, an INSERT) on the
  dataset, then kills, either while the statement runs (its transaction rolls back) or while its
  transaction commits (the rows stay, but dlt has not recorded the job yet: the next run runs it
  again). Only a commit that lasts long enough can be seen: the kill tests' triggers make it last
  and set `application_name` to `COMMITTING` meanwhile (a merge commits inside its statement).
- DuckDB runs inside the process, so nothing outside sees its statements (`kill_when_loading`):
  kill once a normalized package waits in the pipeline's load folder, after a delay.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import psycopg2

POLL_S = 0.002
COMMITTING = "np6-kill: committing"  # the application_name of a transaction while it commits


@dataclass(frozen=True)
class KillPoint:
    """Where to kill: the first word of the statement, text it must contain (a table name), and
    whether to wait for its transaction's COMMIT."""

    verb: str
    table: str = ""
    at_commit: bool = False

    def __str__(self) -> str:
        where = f" {self.table}" if self.table else ""
        return f"{self.verb}{where}{' at commit' if self.at_commit else ''}"


def start(command: list[str], cwd: Path, env: dict[str, str], output: IO[str]) -> subprocess.Popen[str]:
    """`command` in a process group of its own, its output (both streams) into `output`."""
    return subprocess.Popen(command, cwd=cwd, env=env, stdout=output, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)  # fmt: skip


def kill(proc: subprocess.Popen[str]) -> None:
    """SIGKILL the whole process group, and reap it."""
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _backend(cur: psycopg2.extensions.cursor, dataset: str, point: KillPoint) -> tuple[int, str] | None:
    """(pid, statement) of a backend running `point`'s statement on `dataset`, if any."""
    cur.execute(
        "SELECT pid, query FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
        "AND state IN ('active', 'idle in transaction') AND upper(left(ltrim(query), %s)) = %s "
        "AND position(%s IN query) > 0 AND position(%s IN query) > 0 LIMIT 1",
        (len(point.verb), point.verb.upper(), f'"{dataset}', point.table),
    )
    row = cur.fetchone()
    return (row[0], row[1]) if row else None


def _phase(cur: psycopg2.extensions.cursor, pid: int) -> str:
    """`commit` while backend `pid` commits, `done` once its transaction is over, else `busy`."""
    cur.execute("SELECT state, query, application_name FROM pg_stat_activity WHERE pid = %s", (pid,))
    row = cur.fetchone()
    if row is None or row[0] == "idle":
        return "done"
    state, query, application = row
    committing = application == COMMITTING or query.strip().upper().startswith("COMMIT")
    return "commit" if state == "active" and committing else "busy"


def kill_at(proc: subprocess.Popen[str], dsn: str, dataset: str, point: KillPoint, timeout: float = 60) -> str | None:
    """Kill `proc` when PostgreSQL runs `point` for `dataset`; the statement it ran (its first
    80 characters), or None when the process ended or `timeout` passed first (then not killed)."""
    deadline = time.monotonic() + timeout
    with closing(psycopg2.connect(dsn)) as con:
        con.autocommit = True
        with con.cursor() as cur:
            seen: tuple[int, str] | None = None
            while proc.poll() is None and time.monotonic() < deadline:
                if seen is None:
                    seen = _backend(cur, dataset, point)
                    ready = seen is not None and not point.at_commit
                else:  # seen, waiting for its COMMIT; a transaction over without one: look again
                    phase = _phase(cur, seen[0])
                    ready, seen = phase == "commit", None if phase == "done" else seen
                if ready and seen is not None:
                    kill(proc)
                    return seen[1][:80]
                time.sleep(POLL_S)
    return None


def _load_files(pipeline_dir: Path) -> set[Path]:
    """The job files of the normalized packages in `pipeline_dir`'s load folder."""
    while True:
        try:
            return set((pipeline_dir / "load" / "normalized").glob("*/*_jobs/*"))
        except FileNotFoundError:  # dlt moved a folder while it was listed: list again
            continue


def kill_when_loading(proc: subprocess.Popen[str], pipeline_dir: Path, delay: float, timeout: float = 60) -> bool:
    """Kill `proc` `delay` seconds after its load step shows in `pipeline_dir`'s load folder (a
    package normalized, a job started or done since `proc` began); False when it ended first."""
    before, deadline = _load_files(pipeline_dir), time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        if _load_files(pipeline_dir) != before:
            time.sleep(delay)
            if proc.poll() is not None:
                return False
            kill(proc)
            return True
        time.sleep(POLL_S)
    return False
