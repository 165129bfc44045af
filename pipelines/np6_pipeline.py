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
from dlt.common import json
from dlt.common.destination import Destination
from dlt.common.pipeline import get_dlt_pipelines_dir
from dlt.pipeline.pipeline import Pipeline

from pipelines.postgres import postgres
from pipelines.recovery import replay_safe_settings
from pipelines.runner import LoadSummary, resume_hint, run_load
from sources.np6 import open_run
from sources.np6.errors import NP6ConfigError
from sources.np6.events import FEED
from sources.np6.run import FAILED, UNAVAILABLE
from sources.np6.settings import (
    DATASET_NAME,
    DEFAULT_DUCKDB_FILE,
    PIPELINE_NAME,
    SOURCE_NAME,
)

# The schemas folder of a checkout (the curated schema in import/, dlt's export beside it).
SCHEMAS_DIR = Path(__file__).resolve().parent.parent / "schemas"


# DuckDB lets one process take 80% of the machine's memory by default, and a merge uses what it
# gets (a 250k-row commit group peaked at ~1.2 GB of the process). Under 128MB, on one thread,
# without keeping the insertion order of rows (a table has no order; DuckDB needs memory to keep
# one), a 15-day backfill at 50k events a day peaked ~170 MB lower than under 256MB on every core
# (467 vs 634 MB, median of 3) at the same speed (wall time 0.96x): a load runs after its group's
# extract, when nothing else of the run needs the CPU, and a second thread mostly doubled the
# row groups DuckDB keeps in memory at once. `[destination.duckdb.credentials] global_config`
# (or its environment variable) replaces it.
DUCKDB_GLOBAL_CONFIG = {"memory_limit": "128MB", "threads": 1, "preserve_insertion_order": False}
DUCKDB_GLOBAL_CONFIG_ENV = "DESTINATION__DUCKDB__CREDENTIALS__GLOBAL_CONFIG"


def duckdb_memory_default() -> None:
    """Give DuckDB `DUCKDB_GLOBAL_CONFIG` unless the user configured its `global_config`."""
    if DUCKDB_GLOBAL_CONFIG_ENV in os.environ or dlt.config.get("destination.duckdb.credentials.global_config"):
        return
    os.environ[DUCKDB_GLOBAL_CONFIG_ENV] = json.dumps(DUCKDB_GLOBAL_CONFIG)


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
    duckdb_memory_default()
    # Given as fields, a file path is not first tried as a connection URL (which imports
    # SQLAlchemy, ~0.2 s of every run); the other credential fields still come from config.
    credentials = None if path is not None and "://" in path else {"database": target}
    return dlt.destinations.duckdb(credentials, **replay_safe_settings(dlt.destinations.duckdb))


def schema_paths(schemas_dir: Path = SCHEMAS_DIR) -> dict[str, str]:
    """dlt's schema folder for a checkout: `schemas/export` receives the schema after each run.
    An installed package exports nothing (site-packages is no place to write). The curated
    schema itself reaches dlt through the source (`sources/np6/schema.py`), not an import folder."""
    if (schemas_dir / "import" / f"{SOURCE_NAME}.schema.yaml").is_file():
        return {"export_schema_path": str(schemas_dir / "export")}
    return {}


def named_destination(name: str, pipeline_name: str = PIPELINE_NAME) -> Destination[Any, Any]:
    """A destination by name (`postgres`, `filesystem`, `bigquery`, ...), configured the dlt way.

    A pipeline other than the default one merges through its own staging dataset
    (`np6_staging_<pipeline>`): pipelines loading one dataset at the same time must not truncate
    each other's staging tables. No destination makes constraints from column hints: a load job
    replayed after a kill must be able to write its rows again (see `pipelines/recovery.py`).
    """
    layout: dict[str, Any] = {}
    if pipeline_name != PIPELINE_NAME:
        suffix = re.sub(r"\W+", "_", pipeline_name).lower()
        layout = {"staging_dataset_name_layout": f"%s_staging_{suffix}"}
    if name == "postgres":  # a DSN may leave out the password
        return postgres(**layout, **replay_safe_settings(postgres))
    return Destination.from_reference(name, **layout, **replay_safe_settings(Destination.from_reference(name)))


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
    settings = dict(pipeline_name=pipeline_name, destination=destination, dataset_name=dataset,
                    **{**schema_paths(), **kwargs})
    try:
        return dlt.pipeline(**settings)
    except ValueError:  # orjson.JSONDecodeError: a state.json cut short by a crash or a full disk
        if not set_aside_unreadable_state(pipeline_name, kwargs.get("pipelines_dir")):
            raise
        return dlt.pipeline(**settings)


def set_aside_unreadable_state(pipeline_name: str, pipelines_dir: str | None = None) -> bool:
    """Move an unreadable local `state.json` to `<pipelines dir>/<name>.state.json.unreadable`
    and say so; True if it did. Without it dlt restores the state (cursors included) from the
    destination, where each load stores it, at the next run (and wipes the working folder, so
    the copy is kept beside it); nothing is lost that the destination holds."""
    state = Path(pipelines_dir or get_dlt_pipelines_dir()) / pipeline_name / Pipeline.STATE_FILE
    try:
        json.loads(state.read_text("utf-8", "replace"))
        return False
    except FileNotFoundError:
        return False
    except ValueError:
        moved = state.parent.with_name(f"{pipeline_name}.{Pipeline.STATE_FILE}.unreadable")
        state.replace(moved)
    print(f"np6: warning: the local pipeline state {state} was unreadable; moved it to {moved}, "
          "restoring it from the destination", file=sys.stderr)
    return True


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
    """Rows per table, the overall rate, the retries, and every resource that did not finish."""
    rate = summary.event_rows / summary.seconds if summary.seconds else 0.0
    print(
        f"Done in {summary.seconds:.1f} s: {summary.windows} window reads in {summary.groups} "
        f"commit group(s), {summary.event_rows:,} events ({rate:,.0f}/s)."
    )
    for table, rows in sorted(summary.rows.items()):
        print(f"  {table:<28}{rows:>12,}")
    print(f"Rejected rows (kept in _np6_rejected with reason and raw JSON): {summary.rejected:,}")
    waits = summary.waits
    # Pauses the client takes on its own when X-RateLimit-Remaining runs low are waits too, with
    # or without a 429 (a retry): whether one slips in first is a race between the threads.
    if waits.get("retries") or waits.get("rate_limited_waits"):
        print(f"Waited {waits.get('waited_seconds', 0):.1f} s over {waits.get('retries', 0):.0f} retries "
              f"({waits.get('rate_limited_waits', 0):.0f} rate-limit pauses totalling "
              f"{waits.get('rate_limited_seconds', 0):.1f} s, the rest backoff after errors).")
    for status, label in ((UNAVAILABLE, "Unavailable (NP6 answered 403/404; nothing else was asked)"),
                          (FAILED, "Failed (the other resources loaded)")):
        for name, outcome in summary.by_status(status).items():
            print(f"{label}: {name}: {outcome.endpoint or '-'} ({outcome.http_status or '-'})")


def exit_code(summary: LoadSummary) -> int:
    """0 done; 1 a resource failed; 3 the deadline stopped the run (the next run continues);
    with `strict`, an unavailable resource is 1 too."""
    failed = summary.by_status(FAILED)
    if failed:
        first = next(iter(failed.values()))
        where = f"; {resume_hint(summary)}" if FEED in failed else ""
        print(f"np6: error: {len(failed)} resource(s) failed ({', '.join(failed)}): {first.message}{where}; "
              "everything else of this run is loaded", file=sys.stderr)
        return 1
    if summary.stopped_at_deadline:
        print(f"np6: stopped at the run's deadline: {resume_hint(summary)}", file=sys.stderr)
        return 3
    unavailable = summary.by_status(UNAVAILABLE)
    if summary.strict and unavailable:
        print(f"np6: error: unavailable resource(s) with strict on: {', '.join(unavailable)}", file=sys.stderr)
        return 1
    return 0


def load_and_report(
    *,
    pipeline_name: str = PIPELINE_NAME,
    destination: Any = "duckdb",
    dataset: str = DATASET_NAME,
    table_format: str | None = None,
    verbose: bool = False,
    range_start: Any = None,
    range_end: Any = None,
    transport: Any = None,
    summary_json: str | None = None,
    **settings: Any,
) -> int:
    """Plan the run once (settings: any `[sources.np6]` key, winning over config), load it
    (scheduled, or a backfill when range_start/range_end are given), print it (and write it as
    JSON to `summary_json`), and return the exit code."""
    if verbose:
        logging.getLogger("np6").setLevel(logging.INFO)
    run = open_run(range_start=range_start, range_end=range_end, transport=transport, **settings)
    try:
        pipeline = make_pipeline(pipeline_name, destination, dataset)
        kind = "backfill" if run.plan.backfill else "scheduled run"
        print(f"np6 load ({kind}) into {describe_destination(pipeline)}")
        summary = run_load(pipeline, run, table_format=table_format)
    finally:
        run.close()
    print_summary(summary)
    code = exit_code(summary)
    if summary_json:
        from pipelines.operate import write_summary

        write_summary(summary_json, summary, code)
    return code


def load_all() -> int:
    """Scheduled run of every default resource."""
    return load_and_report()


def backfill(start: str, end: str, resources: list[str] | None = None) -> int:
    """Load `[start, end)` without moving the scheduled cursor."""
    return load_and_report(range_start=start, range_end=end, resources=resources)


if __name__ == "__main__":
    sys.exit(load_all())
