"""Merges that trust their staging table: DuckDB's delete-insert without deduplicating it again.

dlt's delete-insert merge copies a package's files into the staging dataset, deletes the rows
with those ids from the dataset, then inserts the staged rows through `ROW_NUMBER() OVER
(PARTITION BY id)`, which keeps one row per id even when staging holds some twice. On DuckDB
that window over every column was most of a backfill's load step (250k hits: 5.6 s, against
1.0 s for the same insert without it). dlt skips it for a table whose schema says its staged
rows are already unique (the `x-stage-data-deduplicated` hint); `trust_staging` sets that hint
in the package about to load, table by table, only when both hold:

- staging will hold each of the package's files once: the package is fresh, so dlt truncates
  its staging tables as it starts it (a package resumed after a kill may have copied a file
  already, see `pipelines.recovery`), and the destination is DuckDB, in-process, where a copy
  that committed cannot then fail and be retried (a warehouse over the network can lose the
  answer to a committed COPY, and dlt retries it);
- the ids of the table's files are unique (their `id` column, read back from the Parquet files).

Otherwise it removes the hint (a pipeline's schema may have kept it from a package before), so
dlt deduplicates as it always does. Tables without an `id` primary key are left alone.
"""

from __future__ import annotations

import logging
import os
from collections import defaultdict

import dlt
import pyarrow.compute as pc
import pyarrow.parquet as pq
from dlt.common.storages.load_package import PackageStorage, ParsedLoadJobFileName

log = logging.getLogger("np6.staging")

STAGED_ONCE = "x-stage-data-deduplicated"
KEY = "id"


def trust_staging(pipeline: dlt.Pipeline) -> dict[str, list[str]]:
    """Set or clear `STAGED_ONCE` on the `id`-keyed merge tables of every package waiting to be
    loaded (see the module docstring); the tables it set it on, by load id."""
    destination = pipeline.destination
    in_process = destination is not None and destination.destination_type.endswith(".duckdb")
    packages = pipeline._get_load_storage().normalized_packages  # dlt has no public handle on these
    trusted: dict[str, list[str]] = {}
    for load_id in pipeline.list_normalized_load_packages():
        fresh = in_process and packages.get_schema_update_file(load_id) is not None
        schema = packages.load_schema(load_id)
        files = _parquet_files(packages, load_id) if fresh else {}
        changed, trusted[load_id] = False, []
        for name, table in schema.tables.items():
            if table.get("write_disposition") != "merge" or not table.get("columns", {}).get(KEY, {}).get("primary_key"):
                continue
            once = fresh and name in files and _unique_ids(files[name])
            if once:
                trusted[load_id].append(name)
            if bool(table.get(STAGED_ONCE)) != once:
                table[STAGED_ONCE] = once  # type: ignore[typeddict-unknown-key]
                changed = True
        if changed:
            packages.save_schema(load_id, schema)
        log.debug("package %s: staging trusted for %s", load_id, ", ".join(trusted[load_id]) or "no table")
    return trusted


def _parquet_files(packages: PackageStorage, load_id: str) -> dict[str, list[str]]:
    """The new jobs' Parquet files of a package, by table (absolute paths)."""
    found: dict[str, list[str]] = defaultdict(list)
    for path in packages.list_new_jobs(load_id):
        job = ParsedLoadJobFileName.parse(os.path.basename(path))
        if job.file_format == "parquet":
            found[job.table_name].append(packages.storage.make_full_path(path))
    return found


def _unique_ids(paths: list[str]) -> bool:
    """Whether no `id` occurs twice across `paths` (False when a file has no `id` column)."""
    try:
        ids = pq.ParquetDataset(paths).read(columns=[KEY]).column(KEY)
    except (KeyError, ValueError, OSError):
        return False
    return ids.null_count == 0 and pc.count_distinct(ids).as_py() == len(ids)
