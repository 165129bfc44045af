"""Operator commands: what a run did (`--summary-json`), the cursors (`np6 state`), which
resources a key can read (`np6 check`), and whether the warehouse still matches NP6 (`np6 verify`).

`verify` re-reads the event feed of `[start, end)` from NP6 window by window (the same requests a
backfill sends) and compares the event ids of each window with the warehouse's. Only action
events are compared: push notification events (`channel = notification`) come from another
feed. A window that differs is named with its missing and extra ids; `repair` deletes the
window's rows of the compared tables and loads the window again, so afterwards it holds exactly
what NP6 answers.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import dlt
from dlt.pipeline.helpers import pipeline_drop

from pipelines.runner import LoadSummary, load_once
from sources.np6 import RunContext
from sources.np6.errors import NP6ConfigError, NP6HTTPError
from sources.np6.events import EVENT_TABLES, feed_tables, plan_units, read_batches
from sources.np6.registry import BY_NAME, REGISTRY
from sources.np6.settings import SOURCE_NAME
from sources.np6.windows import Window, format_instant, tile

# --- the run summary ---------------------------------------------------------------------------


def summary_dict(summary: LoadSummary, exit_code: int) -> dict[str, Any]:
    """A run summary for schedulers: rows per table, windows, retries and waits, outcomes."""
    return {
        "exit_code": exit_code,
        "backfill": summary.backfill,
        "seconds": round(summary.seconds, 3),
        "rows": dict(sorted(summary.rows.items())),
        "event_rows": summary.event_rows,
        "rejected": summary.rejected,
        "window_reads": summary.windows,
        "feed_windows": {"planned": summary.planned_windows, "loaded": summary.feed_windows,
                         "next": summary.next_window},
        "commit_groups": summary.groups,
        "requests": summary.waits,
        "unavailable": {n: o._asdict() for n, o in summary.by_status("unavailable").items()},
        "failed": {n: o._asdict() for n, o in summary.by_status("failed").items()},
        "stopped_at_deadline": summary.stopped_at_deadline,
        "load_ids": summary.load_ids,
    }  # fmt: skip


def write_summary(path: str, summary: LoadSummary, exit_code: int) -> None:
    """Write `summary_dict` as JSON to `path`."""
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(summary_dict(summary, exit_code), handle, indent=2, default=str)
        handle.write("\n")


# --- cursors ----------------------------------------------------------------------------------


def source_state(pipeline: dlt.Pipeline) -> dict[str, Any]:
    """The NP6 source state, as the destination has it when the local copy is missing."""
    pipeline.sync_destination()
    return dict(pipeline.state.get("sources", {}).get(SOURCE_NAME, {}))


def cursor_rows(state: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per resource with a cursor: scheduled cursor, per-action cursors, backfills."""
    rows = []
    for name, value in sorted(state.get("resources", {}).items()):
        if not any(k in value for k in ("cursor", "actions", "backfills")):
            continue
        rows.append({"resource": name, "cursor": value.get("cursor"), "actions": value.get("actions", {}),
                     "backfills": value.get("backfills", {})})
    return rows


def reset_cursors(pipeline: dlt.Pipeline, names: Sequence[str]) -> list[str]:
    """Forget the cursors of `names` in the pipeline and its destination (dlt's own drop of
    their resource state; tables stay). Returns the names that had state.

    Raises:
        NP6ConfigError: a name that has no cursor.
    """
    known = {r["resource"] for r in cursor_rows(source_state(pipeline))}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise NP6ConfigError(f"no cursor for {', '.join(unknown)}; with cursors: {', '.join(sorted(known)) or 'none'}")
    pipeline_drop(pipeline, resources=list(names), state_only=True)()
    return list(names)


# --- check ------------------------------------------------------------------------------------


def check(run: RunContext) -> list[dict[str, Any]]:
    """Ask NP6 one small question per resource: which ones this key can read.

    A 401 or an unreachable host is raised (the key or the URL is wrong, nothing else matters).
    """
    rows = []
    now = run.plan.now
    probe_window = Window(now.subtract(minutes=2), now.subtract(minutes=1))
    for resource in REGISTRY:
        if not resource.probe:
            rows.append(_check_row(resource.name, "", "not probed (needs ids from the loaded events)"))
            continue
        params = _probe_params(resource.probe_params, probe_window)
        try:
            run.client.get(resource.probe, params, context="check")
        except NP6HTTPError as exc:
            if exc.status == 401 or exc.status is None:
                raise
            rows.append(_check_row(resource.name, resource.probe, f"{exc.status}", ok=False))
            continue
        rows.append(_check_row(resource.name, resource.probe, "ok", ok=True))
    return rows


def _probe_params(kind: str, window: Window) -> dict[str, str]:
    if kind == "window":
        return {"start": window.iso_start, "end": window.iso_end, "sort": "asc"}
    if kind == "dates":
        return {"startDate": window.iso_start, "endDate": window.iso_end}
    if kind == "cohort":
        return {"activationStart": window.iso_start, "activationEnd": window.iso_end,
                "reactivityStart": window.iso_start, "reactivityEnd": window.iso_end}
    return {}


def _check_row(name: str, endpoint: str, status: str, ok: bool | None = None) -> dict[str, Any]:
    return {"resource": name, "endpoint": endpoint, "status": status, "readable": ok}


# --- verify -----------------------------------------------------------------------------------


@dataclass
class WindowDiff:
    """What one window of the warehouse lacks or has too much of, per table."""

    window: Window
    missing: dict[str, set[str]]
    extra: dict[str, set[str]]

    def line(self) -> str:
        parts = [f"{t}: {len(self.missing.get(t, ()))} missing, {len(self.extra.get(t, ()))} extra"
                 for t in sorted(set(self.missing) | set(self.extra))]
        return f"{self.window}: " + "; ".join(parts)


def verify_tables(run: RunContext) -> tuple[str, ...]:
    """The event tables a verify of this run compares (the selected action event tables)."""
    tables = tuple(t for t in feed_tables(run.plan) if t in EVENT_TABLES)
    if not tables:
        raise NP6ConfigError("np6 verify compares event tables: select at least one of "
                             f"{', '.join(EVENT_TABLES)}")
    return tables


def np6_ids(run: RunContext, windows: Sequence[Window], tables: Sequence[str]) -> dict[Window, dict[str, set[str]]]:
    """Event ids per planned window and table, as NP6 answers them now."""
    plan = run.plan
    units = plan_units(windows, tables, plan.action_ids, None)
    found: dict[Window, dict[str, set[str]]] = {w: defaultdict(set) for w in windows}
    for batch in read_batches(run.client, units, plan.concurrency, 0, plan.limits):
        window = batch.unit.split_from or batch.unit.window
        for table, rows in batch.tables.items():
            if table in tables and rows.num_rows:
                found[window][table].update(str(i) for i in rows.column("id").to_pylist())
    return found


def _window_sql(table: str, window: Window, what: str) -> str:
    start, end = format_instant(window.start), format_instant(window.end)
    return (f'{what} FROM {table} WHERE "timestamp" >= CAST(\'{start}\' AS TIMESTAMP WITH TIME ZONE) '
            f'AND "timestamp" < CAST(\'{end}\' AS TIMESTAMP WITH TIME ZONE) '
            "AND coalesce(channel, '') <> 'notification'")


def loaded_tables(pipeline: dlt.Pipeline) -> set[str]:
    """The tables the destination has received rows for."""
    if not pipeline.default_schema_name:
        return set()
    return {t["name"] for t in pipeline.default_schema.data_tables(seen_data_only=True)}


def warehouse_ids(pipeline: dlt.Pipeline, windows: Sequence[Window], tables: Sequence[str]) -> dict[Window, dict[str, set[str]]]:
    """Event ids per window and table, as the warehouse holds them (action events only)."""
    present = loaded_tables(pipeline)
    found: dict[Window, dict[str, set[str]]] = {w: defaultdict(set) for w in windows}
    with pipeline.sql_client() as sql:
        for table in (t for t in tables if t in present):
            qualified = sql.make_qualified_table_name(table)
            for window in windows:
                rows = sql.execute_sql(_window_sql(qualified, window, "SELECT id"))
                found[window][table].update(str(r[0]) for r in rows or ())
    return found


def diff_windows(expected: dict[Window, dict[str, set[str]]], loaded: dict[Window, dict[str, set[str]]],
                 tables: Iterable[str]) -> list[WindowDiff]:
    """The windows whose ids differ, in window order."""
    diffs = []
    for window in sorted(expected):
        missing = {t: expected[window][t] - loaded[window][t] for t in tables}
        extra = {t: loaded[window][t] - expected[window][t] for t in tables}
        missing, extra = {t: v for t, v in missing.items() if v}, {t: v for t, v in extra.items() if v}
        if missing or extra:
            diffs.append(WindowDiff(window, missing, extra))
    return diffs


def verify(pipeline: dlt.Pipeline, run: RunContext) -> list[WindowDiff]:
    """The windows of the run's backfill range where the warehouse differs from NP6."""
    if not run.plan.backfill:
        raise NP6ConfigError("np6 verify needs --start (and --end, default now)")
    tables = verify_tables(run)
    windows = tile(*run.plan.span, run.plan.window)
    return diff_windows(np6_ids(run, windows, tables), warehouse_ids(pipeline, windows, tables), tables)


def repair(pipeline: dlt.Pipeline, diffs: Sequence[WindowDiff], settings: dict[str, Any]) -> None:
    """Delete the differing windows' rows and load each window again (a backfill of it)."""
    with pipeline.sql_client() as sql:
        for diff in diffs:
            for table in set(diff.missing) | set(diff.extra):
                if table in loaded_tables(pipeline):
                    sql.execute_sql(_window_sql(sql.make_qualified_table_name(table), diff.window, "DELETE"))
    for diff in diffs:
        load_once(pipeline, progress=lambda line: None, **{**settings, "range_start": diff.window.iso_start,
                                                           "range_end": diff.window.iso_end})


def resource_rows() -> list[dict[str, Any]]:
    """Every resource of the registry, for `np6 resources --json`."""
    return [{k: v for k, v in r._asdict().items() if k not in ("probe", "probe_params")} for r in REGISTRY]


def known_resource(name: str) -> bool:
    """True for a resource of the registry."""
    return name in BY_NAME
