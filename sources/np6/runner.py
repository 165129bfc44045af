"""Run a pipeline over the NP6 source in commit groups, with progress and a summary.

One `pipeline.run` per group of windows: the rows and the cursor of a group land together, so a
crash or a kill loses at most the group in flight, and the next run resumes at the first window
not loaded. Backfills (`range_start`/`range_end`) resume the same way without touching the
scheduled cursor.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import dlt
from dlt.common.pipeline import LoadInfo

from . import np6_source, select_resources
from .events import EVENT_TABLES
from .settings import SOURCE_NAME, WINDOWS_TABLE

MAX_GROUPS = 100_000  # guard against a plan that never shrinks


@dataclass
class LoadSummary:
    """What a load did, for the CLI's closing lines."""

    rows: Counter[str] = field(default_factory=Counter)
    windows: int = 0
    groups: int = 0
    seconds: float = 0.0
    load_ids: list[str] = field(default_factory=list)

    @property
    def event_rows(self) -> int:
        """Rows of the event tables (what the rate is computed on)."""
        return sum(n for t, n in self.rows.items() if t in EVENT_TABLES)


def loader_format(pipeline: dlt.Pipeline) -> str | None:
    """Parquet where the destination takes it (fast for Arrow), else the destination default."""
    caps = pipeline.destination.capabilities()
    return "parquet" if "parquet" in caps.supported_loader_file_formats else None


def remaining_windows(pipeline: dlt.Pipeline) -> int:
    """Windows the last run planned but left for the next one (0 when it caught up)."""
    state: dict[str, Any] = pipeline.state.get("sources", {}).get(SOURCE_NAME, {})
    return int(state.get("progress", {}).get("remaining_windows", 0))


def _count(info: LoadInfo, pipeline: dlt.Pipeline, summary: LoadSummary) -> None:
    normalize = pipeline.last_trace.last_normalize_info if pipeline.last_trace else None
    counts = dict(normalize.row_counts) if normalize else {}
    summary.windows += counts.pop(WINDOWS_TABLE, 0)
    summary.rows.update({t: n for t, n in counts.items() if not t.startswith("_dlt")})
    summary.load_ids.extend(info.loads_ids)


def run_load(
    pipeline: dlt.Pipeline,
    *,
    resources: list[str] | None = None,
    commit_windows: int = 7,
    progress: Callable[[str], None] = print,
    **source_args: Any,
) -> LoadSummary:
    """Load the selected resources, one commit group of `commit_windows` windows per run."""
    names = list(select_resources(resources))
    has_feed = any(n in EVENT_TABLES for n in names)
    summary, started = LoadSummary(), time.monotonic()
    for group in range(MAX_GROUPS):
        this_run = names if group == 0 else [n for n in names if n in EVENT_TABLES]
        source = np6_source(resources=this_run, max_windows=commit_windows, **source_args)
        info = pipeline.run(source, loader_file_format=loader_format(pipeline))
        _count(info, pipeline, summary)
        summary.groups += 1
        left = remaining_windows(pipeline) if has_feed else 0
        elapsed = time.monotonic() - started
        rate = summary.event_rows / elapsed if elapsed else 0.0
        progress(
            f"  {summary.windows} windows loaded, {left} to go; "
            f"{summary.event_rows:,} events ({rate:,.0f}/s)"
        )
        if left == 0:
            break
    summary.seconds = time.monotonic() - started
    return summary
