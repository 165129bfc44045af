"""Window planning and cursors of every windowed resource, kept in dlt resource state.

A *scope* is one cursor: a resource (`hits`, `archives`, `redlists`...) and, for per-action
reads, an action id. Its state lives where dlt keeps a resource's own state, so dlt's tools
reset exactly that resource (`dlt pipeline np6 drop hits`, `refresh="drop_resources"`)::

    sources.np6.resources.hits = {
        "cursor": "2026-10-04T00:00:00Z",              # scheduled runs: loaded up to here
        "actions": {"000PE4": "2026-10-04T00:00:00Z"},  # per-action cursors (--actions)
        "backfills": {"2026-09-01T00:00:00Z/2026-10-01T00:00:00Z": "2026-09-15T00:00:00Z"},
    }

A scheduled run reads from the oldest cursor of its scopes minus the lookback (`start_date` for
a scope that never ran) to `now - safety_margin`. A backfill reads `[range_start, range_end)`
from where an interrupted run of the same range stopped, and never moves a cursor. Every
resource reads its windows through `WindowedRead`: its `windows`, then `done(window)` after the
rows of each window were yielded, so the cursor lands in the same load as those rows.

State written by earlier versions (`sources.np6.cursors["hits@000PE4"]`) is read as a fallback
and removed when the scope's cursor is next written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import timedelta
from typing import Any, NamedTuple, TypeVar

import dlt
import pendulum

from .plan import RunPlan
from .windows import Window, cover, format_instant, plan_range

LEGACY_CURSORS = "cursors"
T = TypeVar("T")


class Scope(NamedTuple):
    """One cursor: a resource, per action when `action_id` is set."""

    resource: str
    action_id: str | None = None

    @property
    def legacy_key(self) -> str:
        """The key this scope had in the source state of earlier versions."""
        return f"{self.resource}@{self.action_id}" if self.action_id else self.resource


def scopes(resources: Sequence[str], action_ids: Sequence[str] | None = None) -> list[Scope]:
    """One scope per resource, and per action when `action_ids` is given."""
    return [Scope(r, a) for r in resources for a in (action_ids or [None])]


def _resource_state(source_state: dict[str, Any], resource: str) -> dict[str, Any]:
    return source_state.setdefault("resources", {}).setdefault(resource, {})


def cursor_of(source_state: dict[str, Any], scope: Scope) -> pendulum.DateTime | None:
    """Where `scope`'s scheduled reads have loaded up to, None if it never ran."""
    state = source_state.get("resources", {}).get(scope.resource, {})
    value = state.get("actions", {}).get(scope.action_id) if scope.action_id else state.get("cursor")
    if value is None:
        value = source_state.get(LEGACY_CURSORS, {}).get(scope.legacy_key)
    return pendulum.parse(value) if value else None


def backfill_key(plan: RunPlan, scope: Scope) -> str:
    """The progress key of the plan's backfill range for one scope (absolute instants)."""
    start, end = plan.span
    key = f"{format_instant(plan.range_start or start)}/{format_instant(plan.range_end or end)}"
    return f"{key}@{scope.action_id}" if scope.action_id else key


def plan_windows(
    plan: RunPlan,
    source_state: dict[str, Any],
    run_scopes: Sequence[Scope],
    *,
    lookback: timedelta | None = None,
) -> list[Window]:
    """The windows `run_scopes` read in this run (see the module docstring).

    Args:
        plan: the run plan (range, window size, now).
        source_state: the NP6 source state (read only here).
        run_scopes: the cursors the reads advance; the oldest one decides where reads start.
        lookback: how far before the cursor to re-read, instead of the plan's lookback.
    """
    if not run_scopes:
        return []
    if plan.backfill:
        start, end = plan.span
        done = [_backfill_done(plan, source_state, s) for s in run_scopes]
        if all(d is not None for d in done):
            start = max(start, min(d for d in done if d is not None))
        return cover(start, end, plan.window)
    cursors = [cursor_of(source_state, s) for s in run_scopes]
    oldest = None if any(c is None for c in cursors) else min(c for c in cursors if c is not None)
    start, end = plan_range(cursor=oldest, start_date=plan.start_date, now=plan.now,
                            lookback=plan.lookback if lookback is None else lookback,
                            safety_margin=plan.safety_margin)  # fmt: skip
    return cover(start, end, plan.window)


def _backfill_done(plan: RunPlan, source_state: dict[str, Any], scope: Scope) -> pendulum.DateTime | None:
    state = source_state.get("resources", {}).get(scope.resource, {})
    value = state.get("backfills", {}).get(backfill_key(plan, scope))
    return pendulum.parse(value) if value else None


def mark_done(plan: RunPlan, source_state: dict[str, Any], run_scopes: Sequence[Scope], until: Window) -> None:
    """Record that every scope has read up to the end of `until` (never backwards).

    Scheduled runs move the cursors; backfills record their progress, and forget it once the
    range is read to its end.
    """
    end = until.end.in_timezone("UTC")
    for scope in run_scopes:
        state = _resource_state(source_state, scope.resource)
        if plan.backfill:
            _advance_backfill(plan, state, scope, end)
            continue
        if cursor_of(source_state, scope) is None or cursor_of(source_state, scope) < end:
            if scope.action_id:
                state.setdefault("actions", {})[scope.action_id] = end.to_iso8601_string()
            else:
                state["cursor"] = end.to_iso8601_string()
        source_state.get(LEGACY_CURSORS, {}).pop(scope.legacy_key, None)


def _advance_backfill(plan: RunPlan, state: dict[str, Any], scope: Scope, end: pendulum.DateTime) -> None:
    backfills = state.setdefault("backfills", {})
    key = backfill_key(plan, scope)
    if end >= plan.span[1]:
        backfills.pop(key, None)
    else:
        backfills[key] = end.to_iso8601_string()
    if not backfills:
        state.pop("backfills")


def reset(source_state: dict[str, Any], resource: str) -> bool:
    """Forget every cursor and backfill of `resource`; True when there was something to forget."""
    had = bool(source_state.get("resources", {}).pop(resource, None))
    legacy = source_state.get(LEGACY_CURSORS, {})
    for key in [k for k in legacy if k == resource or k.startswith(f"{resource}@")]:
        had = bool(legacy.pop(key)) or had
    return had


class WindowedRead:
    """The windows one resource reads in this run, and the cursor they advance.

        read = WindowedRead(plan, scopes(["archives"]))
        for window in read.windows:
            yield rows_of(window)
            read.done(window)

    Args:
        plan: the run plan.
        run_scopes: the cursors this read advances.
        windows: the windows to read, when the caller planned them (a commit group's share);
            else they are planned from the state.
        lookback: re-read this far before the cursor instead of the plan's lookback.
        source_state: the source state (inside a dlt resource: dlt's current one).
    """

    def __init__(
        self,
        plan: RunPlan,
        run_scopes: Sequence[Scope],
        *,
        windows: Sequence[Window] | None = None,
        lookback: timedelta | None = None,
        source_state: dict[str, Any] | None = None,
    ) -> None:
        self.plan, self.scopes = plan, list(run_scopes)
        self.state = dlt.current.source_state() if source_state is None else source_state
        planned = plan_windows(plan, self.state, self.scopes, lookback=lookback) if windows is None else windows
        self.windows: list[Window] = list(planned)
        self._index = {w: i for i, w in enumerate(self.windows)}
        self._completed = 0

    @property
    def span(self) -> Window | None:
        """The range the windows cover (None when there is nothing to read)."""
        return Window(self.windows[0].start, self.windows[-1].end) if self.windows else None

    def done(self, window: Window) -> None:
        """The rows of `window` were all yielded: move the cursors to its end."""
        mark_done(self.plan, self.state, self.scopes, window)
        self._completed = max(self._completed, 1 + self._index.get(window, -1))

    def track(
        self, items: Iterable[T], window_of: Callable[[T], Window], *, cut_short: Callable[[], bool] = lambda: False
    ) -> Iterator[T]:
        """Yield `items` (in window order); a window is done once an item of a later window
        comes, and every window once the last item was taken (only the last one seen when
        `cut_short()` says the items stopped before the last window). `completed` counts them."""
        current: Window | None = None
        for item in items:
            window = window_of(item)
            if current is not None and window != current:
                self.done(current)
            current = window
            yield item
        last = current if cut_short() else (self.windows[-1] if self.windows else None)
        if last is not None:
            self.done(last)

    @property
    def completed(self) -> int:
        """How many of `windows` are done, from the first."""
        return self._completed
