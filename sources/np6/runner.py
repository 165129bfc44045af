"""Run a pipeline over the NP6 source in commit groups, with progress and a summary.

One `pipeline.run` per group of windows: the rows and the cursor of a group land together, so a
crash or a kill loses at most the group in flight, and the next run resumes at the first window
not loaded. Backfills (`range_start`/`range_end`) resume the same way without touching the
scheduled cursor.

Resources that read the destination's event tables (recipient exports derive from them, contacts
are fetched for the receivers they name) run in one last load, after every group of the events.

Only one load of a pipeline runs at a time: `run_load` holds an exclusive `flock` on
`<pipelines dir>/<pipeline name>.load.lock` (the OS drops it when the process dies, even on SIGKILL). When a
group fails, the error says how many windows are loaded and where the next run continues.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import dlt
from dlt.common.pipeline import LoadInfo

from . import np6_source, select_resources
from .client import process_totals
from .errors import NP6Error, NP6HTTPError, find_np6_error
from .events import EVENT_TABLES
from .models import create_models
from .settings import AFTER_EVENTS, NOTIFICATION_EVENTS, REJECTED_TABLE, SOURCE_NAME, WINDOWS_TABLE

LOCK_SUFFIX = ".load.lock"

MAX_GROUPS = 100_000  # guard against a plan that never shrinks
FEED_RESOURCES = frozenset((*EVENT_TABLES, NOTIFICATION_EVENTS))  # read in commit groups


@dataclass
class LoadSummary:
    """What a load did, for the CLI's closing lines."""

    rows: Counter[str] = field(default_factory=Counter)
    windows: int = 0
    planned_windows: int = 0  # windows of the plan committed (window reads may be more)
    rejected: int = 0
    groups: int = 0
    waits: dict[str, float] = field(default_factory=dict)  # the client's retries and waits
    seconds: float = 0.0
    load_ids: list[str] = field(default_factory=list)

    @property
    def event_rows(self) -> int:
        """Rows of the event tables (what the rate is computed on)."""
        return sum(n for t, n in self.rows.items() if t in EVENT_TABLES)


# Per destination type, the loader file format for Arrow data when it is not parquet.
# PostgreSQL loads parquet only through the optional ADBC driver (and then stores `extra` as
# `json`, not `jsonb`); csv goes through COPY with the psycopg2 driver dlt[postgres] installs.
LOADER_FORMATS: dict[str, str] = {"postgres": "csv"}


def loader_format(pipeline: dlt.Pipeline) -> str | None:
    """The file format dlt writes for this destination: parquet where it loads it natively
    (fast for Arrow), an override from `LOADER_FORMATS`, else the destination default."""
    destination_type = pipeline.destination.destination_type.rsplit(".", 1)[-1]
    if destination_type in LOADER_FORMATS:
        return LOADER_FORMATS[destination_type]
    caps = pipeline.destination.capabilities()
    return "parquet" if "parquet" in caps.supported_loader_file_formats else None


def remaining_windows(pipeline: dlt.Pipeline) -> int:
    """Windows the last run planned but left for the next one (0 when it caught up)."""
    state: dict[str, Any] = pipeline.state.get("sources", {}).get(SOURCE_NAME, {})
    return int(state.get("progress", {}).get("remaining_windows", 0))


def _progress(pipeline: dlt.Pipeline) -> dict[str, Any]:
    state: dict[str, Any] = pipeline.state.get("sources", {}).get(SOURCE_NAME, {})
    return dict(state.get("progress", {}))


def _count(info: LoadInfo, pipeline: dlt.Pipeline, summary: LoadSummary) -> None:
    normalize = pipeline.last_trace.last_normalize_info if pipeline.last_trace else None
    counts = dict(normalize.row_counts) if normalize else {}
    summary.windows += counts.pop(WINDOWS_TABLE, 0)
    summary.rejected += counts.pop(REJECTED_TABLE, 0)
    summary.rows.update({t: n for t, n in counts.items() if not t.startswith("_dlt")})
    summary.load_ids.extend(info.loads_ids)


@contextmanager
def load_lock(pipeline: dlt.Pipeline) -> Iterator[None]:
    """Hold the pipeline's load lock, or refuse at once if another process holds it."""
    # Beside the working directory, not in it: dlt may wipe and recreate that directory.
    os.makedirs(pipeline.pipelines_dir, exist_ok=True)
    path = os.path.join(pipeline.pipelines_dir, f"{pipeline.pipeline_name}{LOCK_SUFFIX}")
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise NP6Error(
                f"pipeline {pipeline.pipeline_name} is already loading in another process "
                f"(lock {path}); wait for it to finish, then run again"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _where_to_resume(summary: LoadSummary, pipeline: dlt.Pipeline, source_args: dict[str, Any]) -> str:
    """`14 of 30 windows are loaded; run again to continue from 2026-10-15T00:00:00Z`."""
    if summary.groups == 0:
        start = source_args.get("range_start")
        point = f"from {start}" if start else "where the last committed window ended"
        return f"no window of this run is loaded yet; run again to start {point}"
    progress = _progress(pipeline)
    total = summary.planned_windows + int(progress.get("remaining_windows", 0))
    return (f"{summary.planned_windows} of {total} windows are loaded; run again to continue "
            f"from {progress.get('next', 'the last window loaded')}")


def run_load(
    pipeline: dlt.Pipeline,
    *,
    resources: list[str] | None = None,
    commit_windows: int = 7,
    progress: Callable[[str], None] = print,
    table_format: str | None = None,
    **source_args: Any,
) -> LoadSummary:
    """Load the selected resources, one commit group of `commit_windows` windows per run.

    `table_format` (`delta`, `iceberg`) asks a filesystem destination for open tables, which
    merge on `id` like a warehouse, instead of plain Parquet files, which only append.

    Raises:
        NP6Error: another load of this pipeline is running, or a group failed; the message
            (one line) then says how many windows are loaded and where a re-run continues.
    """
    with load_lock(pipeline):
        names = list(select_resources(resources))
        summary, before = LoadSummary(), process_totals()
        first = [n for n in names if n not in AFTER_EVENTS]
        after = [n for n in names if n in AFTER_EVENTS]
        phase = "events"
        try:
            if first:
                _run_groups(pipeline, first, commit_windows, progress, summary, source_args, table_format)
            phase = "after"
            if after:
                _run_after_events(pipeline, after, progress, summary, source_args, table_format)
            create_models(pipeline, progress)
        except Exception as exc:
            root = find_np6_error(exc)
            if not isinstance(root, NP6HTTPError):
                raise
            if phase == "after":
                raise NP6Error(f"{root}; everything else of this run is loaded; run again to load "
                               f"{', '.join(after)}") from exc
            if not any(n in FEED_RESOURCES for n in names):
                raise
            raise NP6Error(f"{root}; {_where_to_resume(summary, pipeline, source_args)}") from exc
        finally:
            after = process_totals()
            summary.waits = {k: after.get(k, 0) - before.get(k, 0) for k in after}
        return summary


def _run_groups(
    pipeline: dlt.Pipeline,
    names: list[str],
    commit_windows: int,
    progress: Callable[[str], None],
    summary: LoadSummary,
    source_args: dict[str, Any],
    table_format: str | None = None,
) -> None:
    """One `pipeline.run` per commit group until the plan is done."""
    has_feed = any(n in FEED_RESOURCES for n in names)
    started = time.monotonic()
    for group in range(MAX_GROUPS):
        this_run = names if group == 0 else [n for n in names if n in FEED_RESOURCES]
        source = np6_source(resources=this_run, max_windows=commit_windows, **source_args)
        info = pipeline.run(
            source, loader_file_format=loader_format(pipeline), table_format=table_format  # type: ignore[arg-type]
        )
        _count(info, pipeline, summary)
        summary.groups += 1
        summary.planned_windows += int(_progress(pipeline).get("windows", 0)) if has_feed else 0
        left = remaining_windows(pipeline) if has_feed else 0
        elapsed = time.monotonic() - started
        rate = summary.event_rows / elapsed if elapsed else 0.0
        progress(
            f"  {summary.windows} windows loaded, {left} to go; "
            f"{summary.event_rows:,} events ({rate:,.0f}/s)"
        )
        summary.seconds = time.monotonic() - started
        if left == 0:
            break


def _run_after_events(
    pipeline: dlt.Pipeline,
    names: list[str],
    progress: Callable[[str], None],
    summary: LoadSummary,
    source_args: dict[str, Any],
    table_format: str | None = None,
) -> None:
    """One last load for the resources that read the loaded event tables (exports, contacts)."""
    started = time.monotonic()
    info = pipeline.run(
        np6_source(resources=names, **source_args),
        loader_file_format=loader_format(pipeline),  # type: ignore[arg-type]
        table_format=table_format,  # type: ignore[arg-type]
    )
    before = sum(summary.rows.values())
    _count(info, pipeline, summary)
    summary.groups += 1
    summary.seconds += time.monotonic() - started
    progress(f"  {', '.join(names)}: {sum(summary.rows.values()) - before:,} rows")
