"""SIGKILL `np6 load` in the middle of its load step, run again: every id once, no replay loop.

PostgreSQL: the kill lands while the server runs the load's COPY into a staging table, the
merge's DELETE, or the INSERT of the pipeline state, either while the statement runs or while
its transaction commits (the rows stay and dlt has not recorded the job, so the next run runs it
again: the replay that failed on `UniqueViolation ... _dlt_id_key` forever, see
`pipelines/recovery.py`). Last, merges killed while they commit are held on the server until
the next run has started, as a long merge outlives its killed client. Test triggers make each
statement and commit last a moment, so the watcher never misses one. What is asserted does not
depend on when exactly a kill lands: no run meets a UniqueViolation, the last run exits 0, and
every table holds the sandbox's ids, once.

DuckDB runs inside the killed process: kills land at random moments after the load step starts.
"""

from __future__ import annotations

import random
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import psycopg2

from pipelines.recovery import ORPHANS_MARK
from tests.cli import NP6
from tests.faults.helpers import END, EVENT_RESOURCES, FAST, START, assert_exact
from tests.integration.conftest import workspace  # noqa: F401 (a fixture)
from tests.kill import COMMITTING, KillPoint, kill_at, kill_when_loading, start

FIRST_WINDOW_END = "2026-10-01T12:00:00Z"
LOAD = ("--destination", "postgres", "--resources", EVENT_RESOURCES, "--window", "12h", "--commit-every", "1")
DUCKDB_LOAD = ("--resources", EVENT_RESOURCES, "--window", "1d", "--commit-every", "1")  # 2 packages
STATE = "_dlt_pipeline_state"
# Then one more: the merge's DELETE at commit, held on the server until the next run has started.
POINTS = [KillPoint("COPY"), KillPoint("COPY", at_commit=True), KillPoint("DELETE"), KillPoint("INSERT", STATE),
          KillPoint("INSERT", STATE, at_commit=True)]
PAUSE_S = 0.25
GATE = 6_404_242  # advisory lock: while the test holds it, merges wait for it as they commit
RELEASE_AFTER_S = 60


def execute(dsn: str, *statements: str) -> None:
    with closing(psycopg2.connect(dsn)) as con, con, con.cursor() as cur:
        for statement in statements:
            cur.execute(statement)


def tables(wh) -> list[tuple[str, str]]:
    """(schema, table) of the tables with a `_dlt_id`, in the dataset and its staging dataset."""
    return wh.query("SELECT table_schema, table_name FROM information_schema.columns WHERE column_name = "
                    "'_dlt_id' AND table_schema IN (%s, %s)", wh.dataset, f"{wh.dataset}_staging")


def row_key_constraints(wh) -> set[tuple[str, str]]:
    """(schema, table) of the tables with a UNIQUE constraint on `_dlt_id`."""
    return set(wh.query(
        "SELECT n.nspname, c.relname FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_attribute a ON a.attrelid = c.oid "
        "AND a.attnum = con.conkey[1] WHERE con.contype = 'u' AND a.attname = '_dlt_id' "
        "AND n.nspname IN (%s, %s)", wh.dataset, f"{wh.dataset}_staging"))  # fmt: skip


def as_made_before(wh) -> None:
    """The warehouse older versions made: dlt's UNIQUE constraint on every `_dlt_id`."""
    execute(wh.dsn, *(f'ALTER TABLE "{s}"."{t}" ADD CONSTRAINT "{t}__dlt_id_key" UNIQUE ("_dlt_id")'
                      for s, t in tables(wh)))  # fmt: skip


def pause_statements(wh, seconds: float = PAUSE_S) -> None:
    """Every INSERT, COPY and DELETE on the tables waits `seconds` before it runs, and its
    transaction `seconds` more as it commits (named `COMMITTING` meanwhile); a merge's commit then
    also waits for the `GATE` lock (free unless the test holds it)."""
    fn = f'"{wh.dataset}".np6_test_pause'
    statements = [
        f"CREATE FUNCTION {fn}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"PERFORM pg_sleep({seconds}); RETURN NULL; END $$",
        f"CREATE FUNCTION {fn}_commit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"IF current_setting('application_name') <> '{COMMITTING}' THEN "
        f"PERFORM set_config('application_name', '{COMMITTING}', true); PERFORM pg_sleep({seconds}); "
        f"IF TG_ARGV[0] = 'merge' THEN PERFORM pg_advisory_xact_lock_shared({GATE}); END IF; END IF; "
        "RETURN NULL; END $$",
    ]
    for schema, table in tables(wh):
        kind = "merge" if schema == wh.dataset and table != STATE else "load"
        statements += [
            f'CREATE TRIGGER np6_test_pause BEFORE INSERT OR DELETE ON "{schema}"."{table}" '
            f"FOR EACH STATEMENT EXECUTE FUNCTION {fn}()",
            f'CREATE CONSTRAINT TRIGGER np6_test_pause_commit AFTER INSERT OR DELETE ON "{schema}"."{table}" '
            f"DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION {fn}_commit('{kind}')",
        ]
    execute(wh.dsn, *statements)


def killed_run(wh, n: int, point: KillPoint) -> str | None:
    """One backfill of the whole range, killed at `point`: the statement (None: not killed)."""
    log_path = wh.root / f"run{n}.log"
    with open(log_path, "w") as log:
        proc = start(wh.command(*LOAD, "--start", START, "--end", END), wh.root, wh.env, log)
        statement = kill_at(proc, wh.dsn, wh.dataset, point)
        proc.wait()
    output = log_path.read_text()
    assert "UniqueViolation" not in output, output[-3000:]
    return statement


def backends(cur: Any, dataset: str) -> dict[int, str]:
    """{pid: statement} of the backends whose last statement names `dataset` (or waits for one)."""
    cur.execute("SELECT pid, state, query FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND "
                "(position(%s IN query) > 0 OR position(%s IN query) > 0)", (f'"{dataset}', ORPHANS_MARK))
    return {pid: query for pid, state, query in cur.fetchall() if state == "active" or ORPHANS_MARK in query}


def release_when_replayed(cur: Any, dataset: str, orphans: set[int]) -> None:
    """Hold the merges of a killed run until the next run waits for them or replays a merge."""
    deadline = time.monotonic() + RELEASE_AFTER_S
    while time.monotonic() < deadline:
        others = {q for pid, q in backends(cur, dataset).items() if pid not in orphans}
        if any(ORPHANS_MARK in q or q.lstrip().upper().startswith("DELETE") for q in others):
            break
        time.sleep(0.01)
    cur.execute("SELECT pg_advisory_unlock(%s)", (GATE,))


def test_postgres_kills_at_copy_delete_and_insert_end_with_exact_ids(make_sandbox, warehouse):
    box = make_sandbox(days=2, events_per_day=800)
    wh = warehouse(box.url, box.api_key, **FAST)
    first = wh.np6(*LOAD, "--start", START, "--end", FIRST_WINDOW_END)
    assert first.code == 0, first.output
    assert row_key_constraints(wh) == set()  # nothing a replayed job could violate
    as_made_before(wh)
    pause_statements(wh)
    landed = [point for n, point in enumerate(POINTS) if killed_run(wh, n, point)]
    assert len(landed) == len(POINTS), landed

    with closing(psycopg2.connect(wh.dsn)) as gate, gate.cursor() as cur:
        gate.autocommit = True
        cur.execute("SELECT pg_advisory_lock(%s)", (GATE,))
        assert killed_run(wh, len(POINTS), KillPoint("DELETE", at_commit=True))
        orphans = set(backends(cur, wh.dataset))  # the killed run's merges, waiting to commit
        with open(wh.root / "final.log", "w") as log:
            final = start(wh.command(*LOAD, "--start", START, "--end", END), wh.root, wh.env, log)
            release_when_replayed(cur, wh.dataset, orphans)
            assert final.wait(timeout=300) == 0, (wh.root / "final.log").read_text()
    assert_exact(wh, box.account)
    staging = f"{wh.dataset}_staging"
    assert {(s, t) for s, t in row_key_constraints(wh) if s == staging or t == STATE} == set()


def test_duckdb_kills_during_loads_end_with_exact_ids(make_sandbox, workspace):  # noqa: F811
    box = make_sandbox(days=2, events_per_day=800)
    ws = workspace(box.url, box.api_key, **FAST)
    command = [NP6, "load", *DUCKDB_LOAD, "--start", START, "--end", END]
    pipeline_dir = Path(ws.env["DLT_DATA_DIR"]) / "pipelines" / "np6"
    rng, kills = random.Random(5), 0
    for n in range(3):
        with open(ws.root / f"run{n}.log", "w") as log:
            proc = start(command, ws.root, ws.env, log)
            kills += kill_when_loading(proc, pipeline_dir, delay=rng.uniform(0.0, 0.4))
            proc.wait()
    assert kills >= 2
    final = ws.np6(*command[1:])
    assert final.code == 0, final.output
    assert_exact(ws, box.account)
