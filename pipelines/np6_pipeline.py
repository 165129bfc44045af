"""Use cases of the NP6 source, as small functions (and the body of `np6 load`).

    python -m pipelines.np6_pipeline               # scheduled run (same as `np6 load`)
    from pipelines.np6_pipeline import backfill; backfill("2026-10-01", "2026-11-01")
"""

from __future__ import annotations

import logging
import os
import re
import sys
from pathlib import Path
from typing import Any

import dlt
from dlt.common.destination import Destination

from sources.np6.errors import NP6ConfigError
from sources.np6.recovery import replay_safe_settings
from sources.np6.runner import LoadSummary, run_load
from sources.np6.settings import (
    DATASET_NAME,
    DEFAULT_COMMIT_WINDOWS,
    DEFAULT_DUCKDB_FILE,
    PIPELINE_NAME,
    SOURCE_NAME,
)

# The curated dlt schema of a source checkout (see `schema_paths`).
SCHEMAS_DIR = Path(__file__).resolve().parent.parent / "schemas"


def duckdb_destination(dataset: str, default_file: str = DEFAULT_DUCKDB_FILE) -> Any:
    """The DuckDB destination: DESTINATION__DUCKDB__CREDENTIALS (or .dlt) if set, else a file
    in the working directory.

    DuckDB names a database's catalog after its file, so `np6.duckdb` holding the schema `np6`
    makes every `np6.<table>` reference ambiguous (dlt's own loads fail on it): refuse such a
    pair up front with one line instead of a failed load.
    """
    configured = dlt.secrets.get("destination.duckdb.credentials")
    path = str(configured) if isinstance(configured, (str, os.PathLike)) else None
    target = path or os.path.abspath(default_file)
    if Path(target).stem.lower() == dataset.lower():
        raise NP6ConfigError(
            f"DuckDB file {target} would name its catalog '{dataset}' like the dataset, which "
            "DuckDB cannot tell apart; choose another file name or --dataset"
        )
    return dlt.destinations.duckdb(target if path is None else None, **replay_safe_settings(dlt.destinations.duckdb))


def schema_paths(schemas_dir: Path = SCHEMAS_DIR) -> dict[str, str]:
    """dlt's import/export schema folders: `schemas/import` holds the curated warehouse contract
    (types, keys, column order, descriptions), `schemas/export` receives the schema after each
    run. Resolved from this file, so any working directory works; an installed copy without the
    folder uses dlt's inferred schema instead."""
    if not (schemas_dir / "import" / f"{SOURCE_NAME}.schema.yaml").is_file():
        return {}
    return {
        "import_schema_path": str(schemas_dir / "import"),
        "export_schema_path": str(schemas_dir / "export"),
    }


def named_destination(name: str, pipeline_name: str = PIPELINE_NAME) -> Destination[Any, Any]:
    """A destination by name (`postgres`, `filesystem`, `bigquery`, ...), configured the dlt way.

    A pipeline other than the default one merges through its own staging dataset
    (`np6_staging_<pipeline>`): pipelines loading one dataset at the same time must not truncate
    each other's staging tables. No destination makes constraints from column hints: a load job
    replayed after a kill must be able to write its rows again (see `sources/np6/recovery.py`).
    """
    options: dict[str, Any] = {}
    if pipeline_name != PIPELINE_NAME:
        suffix = re.sub(r"\W+", "_", pipeline_name).lower()
        options["staging_dataset_name_layout"] = f"%s_staging_{suffix}"
    settings = replay_safe_settings(Destination.from_reference(name))
    return Destination.from_reference(name, **options, **settings)


def make_pipeline(
    pipeline_name: str = PIPELINE_NAME,
    destination: Any = "duckdb",
    dataset: str = DATASET_NAME,
    **kwargs: Any,
) -> dlt.Pipeline:
    """The NP6 pipeline into any dlt destination: a name (`postgres`, `filesystem`, ...) takes
    its credentials the dlt way (`DESTINATION__POSTGRES__CREDENTIALS`, ...); DuckDB: see
    `duckdb_destination` for the file it writes."""
    if destination == "duckdb":
        destination = duckdb_destination(dataset)
    elif isinstance(destination, str):
        destination = named_destination(destination, pipeline_name)
    return dlt.pipeline(
        pipeline_name=pipeline_name,
        destination=destination,
        dataset_name=dataset,
        **{**schema_paths(), **kwargs},
    )


def describe_destination(pipeline: dlt.Pipeline) -> str:
    """'duckdb /path/np6_data.duckdb, dataset np6', 'postgres host:5432/db, dataset np6' (never a
    password)."""
    name = pipeline.destination.destination_name
    where = ""
    config = pipeline.destination_client().config  # type: ignore[attr-defined]
    if name == "duckdb":
        where = f" {config.credentials.database}"
    elif name == "filesystem":
        where = f" {config.bucket_url}"
    elif getattr(config.credentials, "host", None):  # never the password
        where = f" {config.credentials.host}:{config.credentials.port}/{config.credentials.database}"
    return f"{name}{where}, dataset {pipeline.dataset_name}"


def print_summary(summary: LoadSummary) -> None:
    """Rows per table and the overall rate."""
    rate = summary.event_rows / summary.seconds if summary.seconds else 0.0
    print(
        f"Done in {summary.seconds:.1f} s: {summary.windows} window reads in {summary.groups} "
        f"commit group(s), {summary.event_rows:,} events ({rate:,.0f}/s)."
    )
    for table, rows in sorted(summary.rows.items()):
        print(f"  {table:<28}{rows:>12,}")
    print(f"Rejected rows (kept in _np6_rejected with reason and raw JSON): {summary.rejected:,}")
    waits = summary.waits
    if waits.get("retries"):
        print(f"Waited {waits.get('waited_seconds', 0):.1f} s over {waits['retries']:.0f} retries "
              f"({waits.get('rate_limited_waits', 0):.0f} rate-limit pauses totalling "
              f"{waits.get('rate_limited_seconds', 0):.1f} s, the rest backoff after errors).")


def load_and_report(
    *,
    pipeline_name: str = PIPELINE_NAME,
    destination: Any = "duckdb",
    dataset: str = DATASET_NAME,
    resources: list[str] | None = None,
    commit_windows: int = DEFAULT_COMMIT_WINDOWS,
    verbose: bool = False,
    **source_args: Any,
) -> int:
    """Run a load (scheduled, or a backfill when range_start/range_end are given) and print it."""
    if verbose:
        logging.getLogger("np6").setLevel(logging.INFO)
    pipeline = make_pipeline(pipeline_name, destination, dataset)
    backfill = source_args.get("range_start") or source_args.get("range_end")
    kind = "backfill" if backfill else "scheduled run"
    print(f"np6 load ({kind}) into {describe_destination(pipeline)}")
    summary = run_load(pipeline, resources=resources, commit_windows=commit_windows, **source_args)
    print_summary(summary)
    return 0


def load_all() -> int:
    """Scheduled run of every default resource."""
    return load_and_report()


def backfill(start: str, end: str, resources: list[str] | None = None) -> int:
    """Load `[start, end)` without moving the scheduled cursor."""
    return load_and_report(range_start=start, range_end=end, resources=resources)


if __name__ == "__main__":
    sys.exit(load_all())
