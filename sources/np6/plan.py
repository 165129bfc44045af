"""The run plan: every setting of one run parsed once, into absolute, checked values.

`build_plan` is the boundary: it reads the resolved `NP6Settings` (and the CLI's `--start` /
`--end`), resolves relative instants (`-20d`, `now`) against one `now`, parses every duration,
and refuses what cannot work in one line (a window under a minute, a plan of more windows than
`MAX_PLANNED_WINDOWS`, an end before the start). Everything below takes the frozen `RunPlan`
and never parses a setting again, so every commit group of a run reads the same range.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, NamedTuple

import pendulum

from .config import NP6Settings
from .errors import NP6ConfigError
from .settings import DEFAULT_COMMIT_ROWS, ROBOT_CLASSES
from .windows import parse_duration, parse_instant
from .workers import default_workers

MIN_WINDOW = timedelta(minutes=1)
MAX_PLANNED_WINDOWS = 100_000


class SplitLimits(NamedTuple):
    """When a window is read again in halves: a timeout, or a body over `max_body_bytes`."""

    min_window: timedelta = timedelta(minutes=1)
    max_body_bytes: int | None = None


@dataclass(frozen=True)
class RunPlan:
    """What one run reads, with every value absolute (instants in UTC, durations as timedelta).

    `resources` is the validated selection; `range_start`/`range_end` make the run a backfill.
    """

    api_key: str = field(repr=False)
    base_url: str
    now: pendulum.DateTime
    resources: tuple[str, ...]
    window: timedelta
    start_date: pendulum.DateTime
    lookback: timedelta
    safety_margin: timedelta
    range_start: pendulum.DateTime | None = None
    range_end: pendulum.DateTime | None = None
    action_ids: tuple[str, ...] | None = None
    classification: str | None = None  # the robot pass's classes; None: no robot pass
    concurrency: int = 4
    timeout: float = 120.0
    deadline: timedelta = timedelta(minutes=45)
    strict: bool = False
    commit_every: int | None = None
    commit_rows: int = DEFAULT_COMMIT_ROWS
    commit_seconds: float = 300.0
    decode_workers: int = 0
    max_attempts: int = 6
    backoff_base: float = 1.0
    max_wait: float = 300.0
    max_total_wait: float = 1800.0
    limits: SplitLimits = SplitLimits()
    activity_horizon: timedelta = timedelta(days=30)
    reactivity_horizon: timedelta = timedelta(days=7)
    max_targets: int | None = 20_000
    refresh_targets: int = 4

    @property
    def bound(self) -> pendulum.DateTime:
        """No window of this run ends after this instant (`now - safety_margin`)."""
        return self.now - self.safety_margin

    @property
    def backfill(self) -> bool:
        """True when the run reads an explicit range instead of continuing from the cursors."""
        return self.range_start is not None or self.range_end is not None

    @property
    def span(self) -> tuple[pendulum.DateTime, pendulum.DateTime]:
        """The widest range any windowed resource of this run may read."""
        start = self.range_start or self.start_date
        end = min(self.range_end or self.bound, self.bound)
        return start, end


def split_names(value: Any) -> tuple[str, ...] | None:
    """A list, or comma-separated text, as a tuple of names; None or empty means none given."""
    if value is None:
        return None
    items = value.split(",") if isinstance(value, str) else list(value)
    names = tuple(dict.fromkeys(str(v).strip() for v in items if str(v).strip()))
    return names or None


def _duration(value: Any, setting: str) -> timedelta:
    if str(value).strip() in ("0", "0s", ""):
        return timedelta(0)
    return parse_duration(value, setting=setting)


def _count(value: Any, setting: str, minimum: int = 1) -> int:
    if value is None or int(value) < minimum:
        raise NP6ConfigError(f"{setting} must be at least {minimum}, got {value!r}")
    return int(value)


def build_plan(
    settings: NP6Settings,
    *,
    resources: tuple[str, ...],
    range_start: Any = None,
    range_end: Any = None,
    now: pendulum.DateTime | None = None,
) -> RunPlan:
    """The frozen plan of one run (see the module docstring).

    Args:
        settings: the resolved settings.
        resources: the validated resource selection (`registry.select_resources`).
        range_start: backfill start (any form `parse_instant` reads), None for a scheduled run.
        range_end: backfill end, exclusive (default: now - safety_margin).
        now: the run's "now" (tests); the current time when left out.

    Raises:
        NP6ConfigError: one line naming the setting that cannot work.
    """
    now = pendulum.instance(now) if now is not None else pendulum.now("UTC")
    start = parse_instant(range_start, now=now, setting="--start") if range_start else None
    end = parse_instant(range_end, now=now, setting="--end") if range_end else None
    if start is not None and end is not None and end <= start:
        raise NP6ConfigError(f"--end {end.to_iso8601_string()} is not after --start {start.to_iso8601_string()}")
    window = parse_duration(settings.window, setting="window")
    if window < MIN_WINDOW:
        raise NP6ConfigError(f"window: {settings.window!r} is shorter than the minimum of 1m")
    plan = RunPlan(
        api_key=settings.api_key or "",
        base_url=settings.base_url,
        now=now,
        resources=resources,
        window=window,
        start_date=parse_instant(settings.start_date, now=now, setting="start_date"),
        lookback=_duration(settings.lookback, "lookback"),
        safety_margin=_duration(settings.safety_margin, "safety_margin"),
        range_start=start,
        range_end=end,
        action_ids=split_names(settings.action_ids),
        classification=(settings.hit_classification or ROBOT_CLASSES) if settings.robot_pass else None,
        concurrency=_count(settings.concurrency, "concurrency"),
        timeout=float(settings.timeout),
        deadline=parse_duration(settings.deadline, setting="deadline"),
        strict=bool(settings.strict),
        commit_every=None if settings.commit_every is None else _count(settings.commit_every, "commit_every"),
        commit_rows=_count(settings.commit_rows, "commit_rows"),
        commit_seconds=_positive(settings.commit_seconds, "commit_seconds"),
        decode_workers=_workers(settings.decode_workers),
        max_attempts=_count(settings.max_attempts, "max_attempts"),
        backoff_base=float(settings.backoff_base),
        max_wait=float(settings.max_wait),
        max_total_wait=float(settings.max_total_wait),
        limits=SplitLimits(parse_duration(settings.min_window, setting="min_window"),
                           settings.max_body_bytes or None),
        activity_horizon=parse_duration(settings.activity_horizon, setting="activity_horizon"),
        reactivity_horizon=parse_duration(settings.reactivity_horizon, setting="reactivity_horizon"),
        max_targets=settings.max_targets,
        refresh_targets=_count(settings.refresh_targets, "refresh_targets", minimum=0),
    )
    _check_size(plan)
    return plan


def _positive(value: Any, setting: str) -> float:
    if value is None or float(value) <= 0:
        raise NP6ConfigError(f"{setting} must be positive, got {value!r}")
    return float(value)


def _workers(value: int | None) -> int:
    """Decode processes beside the main one (None: one per core, `workers.default_workers`)."""
    return default_workers() if value is None else _count(value, "decode_workers", minimum=0)


def _check_size(plan: RunPlan) -> None:
    """Refuse a plan whose range holds more windows than any run should ask NP6 for."""
    start, end = plan.span
    windows = max(0, math.ceil((end - start).total_seconds() / plan.window.total_seconds()))
    if windows > MAX_PLANNED_WINDOWS:
        raise NP6ConfigError(
            f"window {plan.window} over [{start.to_iso8601_string()}, {end.to_iso8601_string()}) "
            f"plans {windows:,} windows, over the limit of {MAX_PLANNED_WINDOWS:,}: use a larger "
            "window or a shorter range"
        )
