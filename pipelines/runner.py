"""Run one load of the NP6 source: the lock, the repairs, the phases, progress and the summary.

One run follows one `RunContext` (one plan, one client, one deadline)::

    lock ─► finish a pending package ─► repair missing tables ─► plan the feed's windows once
      ─► events phase: one `pipeline.run` per commit group, which ends at the first window
         boundary past `commit_rows` event rows or `commit_seconds` (or `commit_every` windows);
         the first group also runs every other resource of the phase (dimensions, archives...)
      ─► after phase: one `pipeline.run` of the resources that read the loaded event tables
         (recipient exports, contacts)

The rows and the cursors of a group land together, so a crash or a kill loses at most the group
in flight and the next run resumes at the first window not loaded. A resource that fails is
stopped by its guard (see `sources.np6.run`) without touching the others; the summary says which.
Only one load of a pipeline runs at a time: `load_lock` holds an exclusive `flock` on
`<pipelines dir>/<pipeline name>.load.lock`, which the OS drops when the process dies.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import dlt
from dlt.common.pipeline import LoadInfo, NormalizeInfo

from pipelines.footprint import arrow_pool_default, database_open, dlt_defaults, heap_default, release_memory
from pipelines.recovery import recover_from_kill
from pipelines.repair import finish_pending, repair_tables
from pipelines.staging import trust_staging
from sources.np6 import np6_source, open_run
from sources.np6.errors import NP6Error, NP6HTTPError, find_np6_error
from sources.np6.events import EVENT_TABLES, FEED, feed_windows
from sources.np6.models import create_models
from sources.np6.registry import feed_resources, in_phase
from sources.np6.run import DEADLINE, GroupBudget, Outcome, RunContext
from sources.np6.settings import REJECTED_TABLE, SOURCE_NAME, WINDOWS_TABLE
from sources.np6.windows import Window, format_instant

LOCK_SUFFIX = ".load.lock"

# Per destination type, the loader file format for Arrow data when it is not parquet.
# PostgreSQL loads parquet only through the optional ADBC driver (and then stores `extra` as
# `json`, not `jsonb`); csv goes through COPY with the psycopg2 driver dlt[postgres] installs.
LOADER_FORMATS: dict[str, str] = {"postgres": "csv"}


@dataclass
class LoadSummary:
    """What a load did, for the CLI's closing lines and `--summary-json`."""

    rows: Counter[str] = field(default_factory=Counter)
    windows: int = 0  # `_np6_windows` rows written (window reads of every resource)
    feed_windows: int = 0  # windows of the event feed committed
    planned_windows: int = 0  # windows of the event feed planned for this run
    rejected: int = 0
    groups: int = 0
    waits: dict[str, float] = field(default_factory=dict)  # the client's requests, retries, waits
    seconds: float = 0.0
    load_ids: list[str] = field(default_factory=list)
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    next_window: str | None = None  # where the feed continues when the run stopped early
    strict: bool = False  # the run's `strict` setting (an unavailable resource is an error)
    backfill: bool = False

    @property
    def event_rows(self) -> int:
        """Rows of the event tables (what the rate is computed on)."""
        return sum(n for t, n in self.rows.items() if t in EVENT_TABLES)

    def by_status(self, status: str) -> dict[str, Outcome]:
        """The resources that ended with `status` (`unavailable`, `failed`, `deadline`)."""
        return {name: o for name, o in self.outcomes.items() if o.status == status}

    @property
    def stopped_at_deadline(self) -> bool:
        """True when the deadline stopped the run before its plan was done."""
        return bool(self.by_status(DEADLINE)) or self.feed_windows < self.planned_windows


def loader_format(pipeline: dlt.Pipeline) -> str | None:
    """The file format dlt writes for this destination: parquet where it loads it natively
    (fast for Arrow), an override from `LOADER_FORMATS`, else the destination default."""
    destination_type = pipeline.destination.destination_type.rsplit(".", 1)[-1]
    if destination_type in LOADER_FORMATS:
        return LOADER_FORMATS[destination_type]
    caps = pipeline.destination.capabilities()
    return "parquet" if "parquet" in caps.supported_loader_file_formats else None


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


class _JsonHintNotice(logging.Filter):
    """Drop dlt's notice that our `json` hint on `extra` overrides Arrow's `string` type.

    The override is intended: Arrow has no JSON type dlt maps, so `extra` travels as text and
    the destination stores it as JSON. Every other dlt message passes.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return "when merging arrow schema with dlt schema" not in record.getMessage()


@contextmanager
def quiet_json_hint() -> Iterator[None]:
    """Hide `_JsonHintNotice`'s message for the duration of a run (and only then)."""
    notice, logger = _JsonHintNotice(), logging.getLogger("dlt")
    logger.addFilter(notice)
    try:
        yield
    finally:
        logger.removeFilter(notice)


@dataclass
class _Load:
    """One run in progress: the pipeline, the run context and how to run a source."""

    pipeline: dlt.Pipeline
    run: RunContext
    summary: LoadSummary
    progress: Callable[[str], None]
    table_format: str | None
    started: float = field(default_factory=time.monotonic)
    reopen_database: Callable[[], None] = lambda: None  # `footprint.database_open`'s

    def load(self, windows: list[Window] | None, names: tuple[str, ...], budget: GroupBudget | None = None) -> None:
        """Extract, normalize and load `names`, the feed reading `windows` as far as `budget`
        allows: `pipeline.run`'s steps (`_prepare` has synced the state and finished what was
        pending), with the heap the decoding freed given back before DuckDB's merge."""
        source = np6_source(self.run.for_group(windows, budget), resources=list(names))
        self.pipeline.activate()  # the resources read the destination back through dlt's current pipeline
        self.pipeline.extract(source, loader_file_format=loader_format(self.pipeline),  # type: ignore[arg-type]
                              table_format=self.table_format)  # type: ignore[arg-type]
        release_memory()
        normalized = self.pipeline.normalize()
        trust_staging(self.pipeline)
        self._count(normalized, self.pipeline.load())
        self.reopen_database()  # DuckDB's cache of this merge, then the heap, back to the system
        release_memory()

    def _count(self, normalize: NormalizeInfo | None, info: LoadInfo | None) -> None:
        counts = dict(normalize.row_counts) if normalize else {}
        self.summary.windows += counts.pop(WINDOWS_TABLE, 0)
        self.summary.rejected += counts.pop(REJECTED_TABLE, 0)
        self.summary.rows.update({t: n for t, n in counts.items() if not t.startswith("_dlt")})
        self.summary.load_ids.extend(info.loads_ids if info else ())
        self.summary.groups += 1
        self.summary.seconds = time.monotonic() - self.started

    def say_progress(self) -> None:
        s = self.summary
        rate = s.event_rows / s.seconds if s.seconds else 0.0
        self.progress(f"  {s.feed_windows} of {s.planned_windows} windows loaded; "
                      f"{s.event_rows:,} events ({rate:,.0f}/s)")


def run_load(
    pipeline: dlt.Pipeline,
    run: RunContext,
    *,
    progress: Callable[[str], None] = print,
    table_format: str | None = None,
) -> LoadSummary:
    """Load the run's resources: the events phase in commit groups, then the after phase.

    `table_format` (`delta`, `iceberg`) asks a filesystem destination for open tables, which
    merge on `id` like a warehouse, instead of plain Parquet files, which only append.

    Raises:
        NP6Error: another load of this pipeline is running, or the run had to stop (a 401, an
            unreachable host); the message (one line) says what is loaded and where the next
            run continues.
    """
    summary = LoadSummary(strict=run.plan.strict, backfill=run.plan.backfill)
    job = _Load(pipeline, run, summary, progress, table_format)
    arrow_pool_default()
    heap_default()
    with load_lock(pipeline), quiet_json_hint(), database_open(pipeline) as job.reopen_database, dlt_defaults():
        try:
            _prepare(pipeline, run, progress)
            _events_phase(job)
            _after_phase(job)
            create_models(pipeline, progress)
        except Exception as exc:
            root = find_np6_error(exc)
            if not isinstance(root, NP6HTTPError):
                raise
            raise NP6Error(f"{root}; {resume_hint(summary)}") from exc
        finally:
            summary.waits = run.client.stats
            summary.outcomes = dict(run.outcomes)
            summary.seconds = time.monotonic() - job.started
    return summary


def load_once(
    pipeline: dlt.Pipeline,
    *,
    progress: Callable[[str], None] = print,
    table_format: str | None = None,
    **settings: Any,
) -> LoadSummary:
    """Open a run from `settings` (any `[sources.np6]` key, `range_start`/`range_end`,
    `transport`), load it with `run_load` and close it."""
    run = open_run(**settings)
    try:
        return run_load(pipeline, run, progress=progress, table_format=table_format)
    finally:
        run.close()


def _prepare(pipeline: dlt.Pipeline, run: RunContext, progress: Callable[[str], None]) -> None:
    """Finish what a killed run left, then re-create what an operator dropped by hand."""
    recover_from_kill(pipeline)
    finish_pending(pipeline, progress)
    pipeline.sync_destination()
    repair_tables(pipeline, run.plan.resources, progress)


def _events_phase(job: _Load) -> None:
    """Group 0: every resource of the phase with the first windows; then the feed alone, each
    group from the first window the one before left, until the plan is done."""
    plan = job.run.plan
    names = in_phase(plan.resources, "events")
    feed = feed_resources(names)
    if not names:
        return
    state = job.pipeline.state.get("sources", {}).get(SOURCE_NAME, {})
    windows = feed_windows(plan, state) if feed else []
    job.summary.planned_windows = len(windows)
    first = True
    while first or job.summary.feed_windows < len(windows):
        if not first and (job.run.stopped(FEED) or job.run.deadline_passed):
            break
        done = _group(job, windows[job.summary.feed_windows:], names if first else feed)
        first = False
        if feed:
            job.say_progress()
        if done == 0:  # nothing could be read (the feed stopped): the next run continues
            break
    if job.summary.feed_windows < len(windows):
        job.summary.next_window = format_instant(windows[job.summary.feed_windows].start)


def _group(job: _Load, windows: list[Window], names: tuple[str, ...]) -> int:
    """One commit group over the first of `windows` its budget allows; the windows it loaded."""
    plan = job.run.plan
    share = windows[: plan.commit_every] if plan.commit_every else windows
    budget = GroupBudget(plan.commit_rows, plan.commit_seconds)
    job.summary.next_window = format_instant(share[0].start) if share else None
    job.load(share, names, budget)
    job.summary.feed_windows += budget.windows_done
    job.summary.next_window = None
    return budget.windows_done


def _after_phase(job: _Load) -> None:
    """One load of the resources that read the loaded event tables, unless the deadline passed."""
    names = in_phase(job.run.plan.resources, "after")
    if not names:
        return
    if job.run.deadline_passed:
        for name in names:
            job.run.outcomes[name] = Outcome(name, DEADLINE, "", None, "not started: the run's deadline passed")
        return
    before = sum(job.summary.rows.values())
    job.load(None, names)
    job.progress(f"  {', '.join(names)}: {sum(job.summary.rows.values()) - before:,} rows")


def resume_hint(summary: LoadSummary) -> str:
    """`14 of 30 windows are loaded; run again to continue from 2026-10-15T00:00:00Z`."""
    if not summary.planned_windows:
        return "run again to continue where the last committed window ended"
    where = summary.next_window or "the last window loaded"
    if summary.feed_windows == 0:
        return f"no window of this run is loaded yet; run again to start from {where}"
    return f"{summary.feed_windows} of {summary.planned_windows} windows are loaded; run again to continue from {where}"
