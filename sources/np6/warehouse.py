"""Reading the destination back: the loaded event tables that exports and contacts start from.

Recipient exports are computed from `hits`/`activations` where NP6 exports nothing, and contacts
are fetched for the receivers of the loaded events, so these resources query the pipeline's own
destination (`pipeline.dataset()`). Some destinations cannot always be read back from here (a
Delta lake needs DuckDB's `delta` extension, which DuckDB downloads on first use): then the
resource says so in one warning and loads nothing, and the rest of the run goes on.

So this module holds what reads the destination: `dataset` and `loaded_tables` (the tables that
have rows), `read_back`/`refused` (a destination that refuses, as one warning), and the SQL, valid
in DuckDB and PostgreSQL, of the recipient exports (`action_activity_sql`, `derived_sql`,
`action_activity`) and of the contacts (`new_ids_sql`, `new_target_ids`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import dlt
from dlt.common.schema.utils import has_table_seen_data
from dlt.destinations.exceptions import DatabaseException

from .events import EVENT_TABLES
from .run import RunContext
from .settings import TARGETS_TABLE

if TYPE_CHECKING:  # for the annotation only: exports.py imports this module
    from .exports import RecipientExport

log = logging.getLogger("np6.warehouse")
REFUSED = "read back"  # the run's note (`RunContext.notes`) of why the destination refused a read


def dataset() -> Any:
    """The dataset of the pipeline that is running this resource."""
    return dlt.current.pipeline().dataset()


# dlt's clients of these destinations read unqualified table names in the dataset (their search
# path), so `rows` runs SQL on them as written, skipping the sqlglot pass (parse, qualify, type)
# dlt's dataset makes of every query: ~0.1 s a query, most of an idle run's reading back.
_AS_WRITTEN = ("duckdb", "postgres")


def rows(ds: Any, sql: str) -> list[Any]:
    """Every row `sql` answers over the dataset `ds` of the running pipeline."""
    if dlt.current.pipeline().destination.destination_type.rsplit(".", 1)[-1] in _AS_WRITTEN:
        with ds.sql_client as client:
            return list(client.execute_sql(sql) or ())
    return ds(sql).fetchall()  # type: ignore[no-any-return]


def loaded_tables(ds: Any) -> dict[str, set[str]]:
    """{table: columns} of the tables the destination has received rows for."""
    return {name: set(t.get("columns", {})) for name, t in ds.schema.tables.items() if has_table_seen_data(t)}


def refused(run: RunContext, what: str) -> bool:
    """True (with a warning) when this run already failed to read the destination back: the
    next resource does not try again (each try can cost a download attempt and its timeout)."""
    why = run.notes.get(REFUSED)
    if why is not None:
        log.warning("%s not loaded: the destination's event tables cannot be read back (%s)", what, why)
    return why is not None


@contextmanager
def read_back(run: RunContext, what: str) -> Iterator[None]:
    """Run a read of the destination; when the destination refuses it, warn and go on.

    Used as `with read_back("action_openers"): ...` around everything of a resource that queries
    the destination; what was yielded before the failure stays loaded (rows merge on their key).
    """
    try:
        yield
    except DatabaseException as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        run.notes[REFUSED] = first
        log.warning("%s not loaded: the destination's event tables cannot be read back (%s)", what, first)


# --- recipient exports: active actions and derived rows --------------------------------------


def _literal(value: str) -> str:
    """A SQL string literal (ids come from NP6; quotes are doubled all the same)."""
    return "'" + str(value).replace("'", "''") + "'"


_RECEIVER = "coalesce(receiver_id, CASE WHEN receiver_type = 'id' THEN receiver_value END)"
_ACTION_EVENTS = "action_id IS NOT NULL AND coalesce(channel, '') <> 'notification'"


def action_activity_sql(since: datetime) -> str:
    """SQL (DuckDB and PostgreSQL): per action with a hit or activation at or after `since`,
    how many it has and the newest one's instant, ordered by action."""
    instant = f"CAST({_literal(since.astimezone(UTC).isoformat())} AS TIMESTAMP WITH TIME ZONE)"
    parts = [f'SELECT action_id, count(*) AS n, max("timestamp") AS newest FROM {t} '
             f'WHERE "timestamp" >= {instant} AND {_ACTION_EVENTS} GROUP BY action_id'
             for t in ("hits", "activations")]  # fmt: skip
    return (f"SELECT action_id, sum(n), max(newest) FROM ({' UNION ALL '.join(parts)}) a "
            "GROUP BY action_id ORDER BY action_id")


def derived_sql(export: RecipientExport, action_ids: Sequence[str]) -> str:
    """SQL (DuckDB and PostgreSQL) for the rows of `export` computed from its event table."""
    where = [f"action_id IN ({', '.join(_literal(a) for a in action_ids)})", f"{_RECEIVER} IS NOT NULL",
             _ACTION_EVENTS]
    if export.hit_type:  # human hits only (`is_robot` is never null; older rows may lack it)
        where += [f"hit_type = {_literal(export.hit_type)}", "NOT coalesce(is_robot, false)"]
    return (f"SELECT action_id, {_RECEIVER} AS receiver_id, max(receiver_unicity) AS receiver_unicity, "
            f'max(receiver_hash) AS receiver_hash, min("timestamp") AS first_at, max("timestamp") AS last_at, '
            f'count(*) AS "count" FROM {export.event_table} WHERE {" AND ".join(where)} '
            f"GROUP BY action_id, {_RECEIVER}")  # fmt: skip


def action_activity(dataset: Any, since: datetime) -> dict[str, str]:
    """The actions still receiving events (a hit or activation since `since`), each with a
    fingerprint of those events, `<count>@<newest instant>`: the same events merged again (a
    lookback re-read) leave it as it was; a new or late event changes it."""
    return {str(action): f"{count}@{newest}" for action, count, newest in rows(dataset, action_activity_sql(since))}


# --- contacts: receivers with no `targets` row yet -------------------------------------------


def _receiver_selects(tables: Mapping[str, set[str]], more: str = "") -> list[str]:
    """One `SELECT <receiver id> AS id{more} FROM <table>` per loaded event table with receivers."""
    selects = []
    for table in (t for t in EVENT_TABLES if t in tables):
        parts = []
        if "receiver_id" in tables[table]:
            parts.append("receiver_id")
        if {"receiver_type", "receiver_value"} <= tables[table]:
            parts.append("CASE WHEN receiver_type = 'id' THEN receiver_value END")
        if parts:
            expr = parts[0] if len(parts) == 1 else f"coalesce({', '.join(parts)})"
            selects.append(f"SELECT {expr} AS id{more} FROM {table}")
    return selects


def new_ids_sql(tables: Mapping[str, set[str]]) -> str | None:
    """SQL (DuckDB and PostgreSQL) for the sorted receiver ids of the loaded event tables that
    are not in `targets`; None when no event table has receiver columns."""
    selects = _receiver_selects(tables)
    if not selects:
        return None
    where = "r.id IS NOT NULL"
    if "id" in tables.get(TARGETS_TABLE, ()):
        where += f" AND NOT EXISTS (SELECT 1 FROM {TARGETS_TABLE} t WHERE t.id = r.id)"
    return f"SELECT DISTINCT r.id FROM ({' UNION '.join(selects)}) r WHERE {where} ORDER BY r.id"


def stale_ids_sql(tables: Mapping[str, set[str]]) -> str | None:
    """SQL (DuckDB and PostgreSQL) for the sorted ids of `targets` with an event newer than their
    last read (`fetched_at`; a row from before that column counts as never read)."""
    timed = {t: columns for t, columns in tables.items() if "timestamp" in columns}
    selects = _receiver_selects(timed, ', "timestamp" AS at')
    if "id" not in tables.get(TARGETS_TABLE, ()) or not selects:
        return None
    fetched = "t.fetched_at" if "fetched_at" in tables[TARGETS_TABLE] else "NULL"
    return (f"SELECT t.id FROM {TARGETS_TABLE} t JOIN (SELECT r.id, max(r.at) AS last_event FROM "
            f"({' UNION ALL '.join(selects)}) r GROUP BY r.id) e ON e.id = t.id "
            f"WHERE {fetched} IS NULL OR e.last_event > {fetched} ORDER BY t.id")


def rolling_ids_sql(tables: Mapping[str, set[str]], count: int) -> str | None:
    """SQL for the `count` contacts (not known deleted) read longest ago, the never-read first."""
    columns = tables.get(TARGETS_TABLE, set())
    if "id" not in columns or count <= 0:
        return None
    if "fetched_at" not in columns:
        return f"SELECT id FROM {TARGETS_TABLE} ORDER BY id LIMIT {int(count)}"
    return (f"SELECT id FROM {TARGETS_TABLE} WHERE deleted_at IS NULL "
            f"ORDER BY fetched_at NULLS FIRST, id LIMIT {int(count)}")


def target_ids(refresh: int) -> list[str]:
    """The contacts to read this run: new ones, then stale ones, then the rolling slice (once each)."""
    ds = dataset()
    tables = loaded_tables(ds)
    found: dict[str, None] = {}
    for sql in (new_ids_sql(tables), stale_ids_sql(tables), rolling_ids_sql(tables, refresh)):
        if sql is not None:
            found.update((str(r[0]), None) for r in rows(ds, sql))
    return list(found)
