"""Load jobs that run twice: what a SIGKILL between a commit and its record needs.

dlt marks a load job done in the load package only after the destination committed its rows
(`RunnableLoadJob.run_managed` -> `_release` writes `.pending_transitions/<job>`, then
`Load.complete_jobs` moves the file to `completed_jobs`); dlt's maintainers say a gap will always
remain (dlt-hub/dlt#3767). A kill in that gap leaves the job in `started_jobs`, and the next run
executes it again (`Load.resume_started_jobs`) without truncating the staging tables again
(`Load.initialize_package` runs `init_client`, which truncates them, once per package). On
PostgreSQL the gap is wide for merges: dlt sends a merge's DELETE and INSERT as one string
outside any explicit transaction (`SqlLoadJob.maybe_transaction`: postgres does not declare
`supports_transactions`), so the server runs it to its end, commit included, after its client died.

Such a replay is harmless here: every source table merges on its key through staging, and the
delete-insert merge keeps one row per key even when staging holds a job's rows twice
(`ROW_NUMBER() OVER (PARTITION BY id)`; a resumed package always merges so, see
`pipelines.staging`); the one table loaded without staging, `_dlt_pipeline_state`, only gains a
copy of the same state. Two things break it:

- A UNIQUE constraint on `_dlt_id`: dlt puts its `unique` hint on that column
  (`RelationalNormalizer.extend_schema`, `dlt_id_column`) and PostgreSQL's client renders hints
  as constraints (`create_indexes`, on by default). The replayed COPY then fails on
  `UniqueViolation ... _dlt_id_key`, five retries a run, and the package never loads again.
  New warehouses get none (`replay_safe_settings`); `recover_from_kill` drops the ones older
  versions created where a replay writes.
- A merge of the killed run still running on the server while the next run replays it: the
  replay's DELETE does not see rows the other has inserted but not yet committed, and its INSERT
  adds them a second time. `recover_from_kill` waits for such statements first.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import dlt
from dlt.common.destination import Destination
from dlt.common.schema.utils import get_write_disposition
from dlt.destinations.sql_client import SqlClientBase

from sources.np6.errors import NP6Error

log = logging.getLogger("np6.recovery")

ROW_KEY = "_dlt_id"
ORPHAN_WAIT_S = 600.0  # a killed run's statement finishes or fails long before this
ORPHAN_POLL_S = 0.5

# Single-column UNIQUE constraints on the row key, in the staging dataset (every table there is
# written by load jobs) and on the dataset's tables that load jobs write directly (not merged).
_ROW_KEY_CONSTRAINTS = """
SELECT n.nspname, c.relname, con.conname
FROM pg_constraint con
JOIN pg_class c ON c.oid = con.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = con.conkey[1]
WHERE con.contype = 'u' AND cardinality(con.conkey) = 1 AND a.attname = %s
  AND (n.nspname = %s OR (n.nspname = %s AND c.relname = ANY(%s)))
"""
# Statements still running on this pipeline's staging dataset. While we hold the pipeline's load
# lock no live run of it exists, so they are a killed run's. (The comment shows in
# pg_stat_activity: the kill tests see that a run waits.)
ORPHANS_MARK = "np6: waiting for a killed load"
_ORPHANS = f"""/* {ORPHANS_MARK} */
SELECT pid FROM pg_stat_activity
WHERE pid <> pg_backend_pid() AND state = 'active' AND position(%s IN query) > 0
"""


def replay_safe_settings(destination: Destination[Any, Any] | type[Destination[Any, Any]]) -> dict[str, Any]:
    """Settings for a destination factory (or its class) under which a replayed load job cannot
    fail on a duplicate row: no constraints made from column hints, where it has that setting."""
    return {"create_indexes": False} if hasattr(destination.spec, "create_indexes") else {}


def recover_from_kill(pipeline: dlt.Pipeline) -> None:
    """Before a load on PostgreSQL: let what a killed run left behind finish, and make its jobs
    safe to run again (see the module docstring). Nothing to do elsewhere, or on a first run.

    Raises:
        NP6Error: statements of a killed run were still running after `ORPHAN_WAIT_S`.
    """
    kind = pipeline.destination.destination_type.rsplit(".", 1)[-1] if pipeline.destination else ""
    if kind != "postgres" or not pipeline.default_schema_name:
        return
    with pipeline.sql_client() as client:
        wait_for_orphans(client)
        release_row_key_constraints(client, _direct_tables(pipeline))


def wait_for_orphans(client: SqlClientBase[Any], timeout: float = ORPHAN_WAIT_S) -> None:
    """Wait until no statement of a killed run of this pipeline runs on its staging dataset."""
    staging = client.capabilities.escape_identifier(client.staging_dataset_name)
    deadline, said = time.monotonic() + timeout, False
    while pids := [row[0] for row in client.execute_sql(_ORPHANS, staging) or []]:
        if time.monotonic() > deadline:
            raise NP6Error(f"statements of an earlier, killed load still run on PostgreSQL (pids "
                           f"{', '.join(map(str, pids))}); wait for them to end, then run again")  # fmt: skip
        if not said:
            log.warning("waiting for %d statement(s) of an earlier, killed load to finish on PostgreSQL", len(pids))
            said = True
        time.sleep(ORPHAN_POLL_S)


def _direct_tables(pipeline: dlt.Pipeline) -> list[str]:
    """Tables load jobs write without staging (here `_dlt_pipeline_state`, which appends)."""
    tables = pipeline.default_schema.tables
    return [name for name in tables if get_write_disposition(tables, name) != "merge"]


def release_row_key_constraints(client: SqlClientBase[Any], direct_tables: list[str]) -> list[str]:
    """Drop the UNIQUE constraints on `_dlt_id` that older versions created in the staging dataset
    and on `direct_tables`; `schema.table.constraint` of each (none once done)."""
    quote = client.capabilities.escape_identifier
    found = client.execute_sql(_ROW_KEY_CONSTRAINTS, ROW_KEY, client.staging_dataset_name,
                               client.dataset_name, direct_tables) or []  # fmt: skip
    for schema, table, constraint in found:
        client.execute_sql(f"ALTER TABLE {quote(schema)}.{quote(table)} DROP CONSTRAINT {quote(constraint)}")
    dropped = [".".join(row) for row in found]
    if dropped:
        log.info("dropped UNIQUE constraints a replayed load job would fail on: %s", ", ".join(dropped))
    return dropped
