"""Repairs at the start of a run: a package a killed run left, tables dropped behind dlt's back.

`finish_pending` completes the load package an interrupted run left (its rows and its state
land together, as if the run had not been stopped). `repair_tables` finds the tables of the
selected resources that dlt's schema says hold data but the destination has lost (dropped, or
emptied while the resource's cursor says its windows are loaded) and re-loads those resources
from `start_date` with dlt's own drop (tables, schema and resource state together, exactly what
`dlt pipeline np6 drop RESOURCE` does), with one warning each, instead of skipping them forever.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import dlt
from dlt.common.schema.utils import group_tables_by_resource
from dlt.destinations.job_client_impl import SqlJobClientBase
from dlt.pipeline.helpers import pipeline_drop

from pipelines.staging import trust_staging
from sources.np6.schema import ask_for_dlt_columns
from sources.np6.settings import SOURCE_NAME

log = logging.getLogger("np6.repair")


def finish_pending(pipeline: dlt.Pipeline, progress: Callable[[str], None]) -> None:
    """Load what an interrupted run extracted and committed to a package, before anything else."""
    if not pipeline.has_pending_data:
        return
    progress("  finishing the load an interrupted run left")
    ask_for_dlt_columns()  # a package killed before its normalize gets the row columns too
    pipeline.normalize()
    trust_staging(pipeline)  # a package resumed after a kill merges with dlt's deduplication
    pipeline.load()


def _resource_tables(pipeline: dlt.Pipeline, names: Sequence[str]) -> dict[str, list[str]]:
    """The tables with data of each selected resource, from dlt's schema."""
    if not pipeline.default_schema_name:
        return {}
    data_tables = {t["name"]: t for t in pipeline.default_schema.data_tables(seen_data_only=True)}
    grouped = group_tables_by_resource(data_tables)
    return {name: [t["name"] for t in grouped[name]] for name in names if name in grouped}


def _has_cursor(pipeline: dlt.Pipeline, resource: str) -> bool:
    state = pipeline.state.get("sources", {}).get(SOURCE_NAME, {})
    return bool(state.get("resources", {}).get(resource) or state.get("cursors", {}).get(resource))


def lost_tables(pipeline: dlt.Pipeline, names: Sequence[str]) -> dict[str, str]:
    """Resource -> why it must be re-loaded: a table missing, or empty while it has a cursor."""
    owned = _resource_tables(pipeline, names)
    if not owned:
        return {}
    with pipeline.destination_client() as client:
        if not isinstance(client, SqlJobClientBase):
            return {}  # files and lakehouses: nothing to ask an information schema
        found = {name for name, columns in client.get_storage_tables(t for ts in owned.values() for t in ts)
                 if columns}  # fmt: skip
        lost: dict[str, str] = {}
        for resource, tables in owned.items():
            missing = [t for t in tables if t not in found]
            if missing:
                lost[resource] = f"table {', '.join(missing)} is missing in the destination"
            elif _has_cursor(pipeline, resource) and _all_empty(client, tables):
                lost[resource] = f"table {', '.join(tables)} is empty though its cursor says loaded"
        return lost


def _all_empty(client: SqlJobClientBase, tables: Sequence[str]) -> bool:
    sql = client.sql_client
    for table in tables:
        if sql.execute_sql(f"SELECT 1 FROM {sql.make_qualified_table_name(table)} LIMIT 1"):
            return False
    return True


def repair_tables(pipeline: dlt.Pipeline, names: Sequence[str], progress: Callable[[str], None]) -> list[str]:
    """Re-load every selected resource whose tables the destination lost; the names repaired."""
    lost = lost_tables(pipeline, names)
    for resource, why in lost.items():
        log.warning("%s: %s; re-loading it from start_date", resource, why)
    if lost:
        progress(f"  re-loading {', '.join(lost)} from start_date (tables lost in the destination)")
        pipeline_drop(pipeline, resources=list(lost))()
    return list(lost)
