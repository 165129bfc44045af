"""Kills and concurrent runs: the real `np6 load` process SIGKILLed mid-run, then run again.

A commit group (rows + cursor) is the unit of commit: after any kill, the state committed in the
warehouse is never ahead of the rows there, and re-runs end with exactly the sandbox's data.
"""

from __future__ import annotations

import fcntl
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from dlt.common.versioned_state import decompress_state

from sources.np6_sandbox import Faults
from tests.faults.helpers import END, EVENT_RESOURCES, FAST, SMALL, START, assert_exact, ms, one_line_error
from tests.cli import NP6

TYPES = ["hit", "activation", "bounce", "cancellation"]


def committed_progress(ws) -> str | None:
    """The backfill position in the newest source state of a completed load in the warehouse."""
    if not ws.duckdb.exists():
        return None
    tables = {r[0] for r in ws.query("SELECT table_name FROM duckdb_tables() WHERE schema_name='np6'")}
    if "_dlt_pipeline_state" not in tables:
        return None
    # a load counts once `_dlt_loads` records it; a killed load's rows and state both wait in
    # its package, which the next run completes before it reads anything
    row = ws.query("SELECT state FROM np6._dlt_pipeline_state s JOIN np6._dlt_loads l "
                   "ON s._dlt_load_id = l.load_id WHERE l.status = 0 ORDER BY s.version DESC LIMIT 1")
    if not row:
        return None
    resources = decompress_state(row[0][0])["sources"]["np6"].get("resources", {})
    positions = [done for state in resources.values() for done in state.get("backfills", {}).values()]
    return min(positions) if positions else None


def assert_state_not_ahead(ws, account) -> str | None:
    """Every event before the committed position is in the warehouse (none twice)."""
    position = committed_progress(ws)
    if position is None:
        return None
    loaded: list[str] = []
    for table in ("hits", "activations", "bounces", "cancellations"):
        loaded += ws.ids(table)
    assert len(loaded) == len(set(loaded))
    assert account.event_ids(ms(START), ms(position), types=TYPES) <= set(loaded), position
    return position


def test_killed_runs_resume_to_exactly_the_servers_data(make_sandbox, workspace):
    box = make_sandbox(faults=Faults(latency_ms=300), days=2, events_per_day=800)
    ws = workspace(box.url, box.api_key, **FAST)
    args = [NP6, "load", "--start", START, "--end", END, "--resources", EVENT_RESOURCES,
            "--window", "4h", "--commit-every", "2"]
    rng, kills, positions = random.Random(11), 0, set()
    for _ in range(3):
        proc = subprocess.Popen(args, cwd=ws.root, env=ws.env, stdout=subprocess.PIPE, text=True,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        # `np6 load` prints "N of M windows loaded" after each committed group: kill after one
        # (so progress is committed), at a random moment of the next group's work
        for line in proc.stdout:
            if "windows loaded" in line:
                time.sleep(rng.uniform(0.0, 1.5))
                break
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the whole process group, as a machine dies
            kills += 1
        proc.communicate()
        positions.add(assert_state_not_ahead(ws, box.account))
    assert kills >= 2
    assert positions - {None}, "no kill landed after a committed group"
    final = ws.np6("load", "--start", START, "--end", END, "--resources", EVENT_RESOURCES,
                   "--window", "4h", "--commit-every", "2")
    assert final.code == 0, final.output
    assert_exact(ws, box.account)
    assert committed_progress(ws) is None  # the backfill is finished and forgotten


def test_a_second_run_of_the_same_pipeline_is_refused(sandbox, workspace):
    ws = workspace(sandbox.url, sandbox.api_key, **FAST)
    lock = Path(ws.env["DLT_DATA_DIR"]) / "pipelines" / "np6.load.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as a running `np6 load` holds it
        result = ws.np6("load", "--start", START, "--end", END)
    one_line_error(result, code=1, key=sandbox.api_key, must=("already loading", "np6.load.lock"))
    assert sandbox.server.stats()["requests"] == 0


# A process that extracted a commit group and died before normalizing it (what a kill between
# `extract` and `normalize` leaves). Run on its own: the next `np6 load` starts in a fresh
# process, which has never built a source when it finishes that package.
EXTRACT_ONLY = """
import sys
from pipelines.np6_pipeline import make_pipeline
from sources.np6 import np6_source
make_pipeline().extract(np6_source(range_start=sys.argv[1], range_end=sys.argv[2], resources=sys.argv[3].split(",")))
"""


def test_a_package_killed_before_its_normalize_is_finished_by_the_next_run(make_sandbox, workspace):
    box = make_sandbox(**SMALL)
    ws = workspace(box.url, box.api_key, **FAST)
    env = dict(ws.env, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    subprocess.run([sys.executable, "-c", EXTRACT_ONLY, START, END, EVENT_RESOURCES], cwd=ws.root, env=env,
                   check=True, capture_output=True, timeout=300)  # fmt: skip
    assert not ws.duckdb.exists()  # nothing loaded yet: the rows wait in the extracted package
    result = ws.np6("load", "--start", START, "--end", END, "--resources", EVENT_RESOURCES)
    assert result.code == 0, result.output
    assert "finishing the load an interrupted run left" in result.out
    assert_exact(ws, box.account)
    rows = ws.query("SELECT count(*), count(_dlt_id), count(_dlt_load_id) FROM np6.hits")[0]
    assert rows[0] > 0 and rows == (rows[0],) * 3
