"""dlt source for the NP6 (Chapsvision CM) API: actions and notifications with their events,
recipient exports, archives, contacts and the account's dimensions.

Tables (see DATA-MODEL.md): the event tables `hits`, `activations`, `bounces`, `cancellations`,
`executions`, `other_events` (email, SMS and push notification events); `action_recipients`,
`action_openers`, `action_clickers`; `archives`; `targets`, `target_bounces`, `redlists`; the
opt-in `reactivities` and `campaign_events`; the dimensions `actions`, `notifications`,
`campaigns`, `fields`, `value_lists`, `segments`, `imports`, `mobile_applications`,
`marketing_pressure_topics`, `marketing_pressure_rules`; the bookkeeping tables `_np6_windows`
and `_np6_rejected`.

    pipeline = dlt.pipeline("np6", destination="duckdb", dataset_name="np6")
    pipeline.run(np6_source(), loader_file_format="parquet")

Settings come the dlt way: `[sources.np6]` in `.dlt/config.toml` / `.dlt/secrets.toml` or
`SOURCES__NP6__<NAME>` environment variables (`SOURCES__NP6__API_KEY`, `..._BASE_URL`, ...).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, List, Optional

import dlt
import httpx
from dlt.sources import DltResource

from .archives import archives
from .campaigns import campaign_events
from .client import NP6Client
from .contacts import redlists, targets
from .decode import default_workers
from .dimensions import actions, dimension
from .errors import NP6ConfigError, NP6Error
from .events import (
    EVENT_TABLES,
    FEED_TABLES,
    FeedConfig,
    SplitLimits,
    event_feed,
    event_table,
    rejected_log,
    windows_log,
)
from .exports import EXPORT_TABLES, export_resources
from .push import NOTIFICATION_EVENT_TABLES, NOTIFICATION_EVENTS
from .reactivities import reactivities
from .settings import (
    DEFAULT_ACTIVITY_HORIZON,
    DEFAULT_BASE_URL,
    DEFAULT_CONCURRENCY,
    DEFAULT_LOOKBACK,
    DEFAULT_MAX_TARGETS,
    DEFAULT_REFRESH_TARGETS,
    DEFAULT_REACTIVITY_HORIZON,
    DEFAULT_SAFETY_MARGIN,
    DEFAULT_START_DATE,
    DEFAULT_TIMEOUT,
    DEFAULT_WINDOW,
    DIMENSION_ENDPOINTS,
    RESOURCE_NAMES,
    RESOURCES,
    ROBOT_CLASSES,
    SOURCE_NAME,
)
from .windows import parse_duration, parse_instant

# The warehouse contract keeps dlt's own `_dlt_load_id` and `_dlt_id` columns on every table;
# dlt adds them to Arrow tables only when asked. Explicit settings still win.
os.environ.setdefault("NORMALIZE__PARQUET_NORMALIZER__ADD_DLT_LOAD_ID", "true")
os.environ.setdefault("NORMALIZE__PARQUET_NORMALIZER__ADD_DLT_ID", "true")

__all__ = ["np6_source", "NP6Error", "select_resources", "feed_config"]


def select_resources(names: Sequence[str] | str | None) -> tuple[str, ...]:
    """Validate a resource selection (list or comma-separated text); None means the defaults."""
    if names is None or names == "" or names == []:
        return tuple(r.name for r in RESOURCES if r.default)
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    unknown = [n for n in names if n not in RESOURCE_NAMES]
    if unknown:
        raise NP6ConfigError(
            f"unknown resource(s) {', '.join(unknown)}; known: {', '.join(RESOURCE_NAMES)}"
        )
    return tuple(dict.fromkeys(names))


def feed_config(
    *,
    tables: Sequence[str],
    action_ids: Sequence[str] | None,
    hit_classification: str | None,
    window: Any,
    start_date: Any,
    lookback: Any,
    safety_margin: Any,
    range_start: Any = None,
    range_end: Any = None,
    max_windows: int | None = None,
    min_window: Any = "1m",
    max_body_bytes: int | None = None,
    robot_pass: bool = True,
) -> FeedConfig:
    """Parse and check the windowing settings once, before any request."""
    start = parse_instant(range_start) if range_start else None
    end = parse_instant(range_end) if range_end else None
    if start is not None and end is not None and end <= start:
        raise NP6ConfigError(f"end {end.to_iso8601_string()} is not after start {start.to_iso8601_string()}")
    return FeedConfig(
        tables=tuple(t for t in tables if t in FEED_TABLES),
        action_ids=tuple(action_ids) if action_ids else None,
        classification=(hit_classification or ROBOT_CLASSES) if robot_pass else None,
        window=parse_duration(window),
        start_date=parse_instant(start_date),
        lookback=timedelta(0) if str(lookback).strip() in ("", "0", "0s") else parse_duration(lookback),
        safety_margin=parse_duration(safety_margin),
        range_start=start,
        range_end=end,
        max_windows=max_windows,
        limits=SplitLimits(parse_duration(min_window), max_body_bytes or None),
    )


@dlt.source(name=SOURCE_NAME, max_table_nesting=0)
def np6_source(
    api_key: str = dlt.secrets.value,
    base_url: str = DEFAULT_BASE_URL,
    start_date: str = DEFAULT_START_DATE,
    window: str = DEFAULT_WINDOW,
    lookback: str = DEFAULT_LOOKBACK,
    safety_margin: str = DEFAULT_SAFETY_MARGIN,
    concurrency: int = DEFAULT_CONCURRENCY,
    timeout: float = DEFAULT_TIMEOUT,
    resources: Optional[List[str]] = None,
    action_ids: Optional[List[str]] = None,
    hit_classification: Optional[str] = None,
    robot_pass: bool = True,
    range_start: Optional[str] = None,
    range_end: Optional[str] = None,
    max_windows: Optional[int] = None,
    decode_workers: Optional[int] = None,
    max_attempts: int = 6,
    backoff_base: float = 1.0,
    max_wait: float = 300.0,
    max_total_wait: float = 1800.0,
    min_window: str = "1m",
    max_body_bytes: Optional[int] = None,
    activity_horizon: str = DEFAULT_ACTIVITY_HORIZON,
    reactivity_horizon: str = DEFAULT_REACTIVITY_HORIZON,
    max_targets: Optional[int] = DEFAULT_MAX_TARGETS,
    refresh_targets: int = DEFAULT_REFRESH_TARGETS,
    transport: Optional[httpx.BaseTransport] = None,
) -> list[DltResource]:
    """NP6 actions and events, windowed and incremental.

    Args:
        api_key: the NP6 `X-Key`.
        base_url: NP6 API root (the production server by default).
        start_date: where the first scheduled run starts (ISO date/time, epoch ms or `-30d`).
        window: window size, e.g. `1d`, `6h`: one request per window (per type/action).
        lookback: how far before the cursor each scheduled run re-reads, for late events.
        safety_margin: how far behind "now" the newest window ends.
        concurrency: requests in flight at once.
        timeout: seconds per request.
        resources: resource names to load (default: all default resources).
        action_ids: read the per-action feeds of these actions instead of the account-wide one.
        hit_classification: the robot classes the robot pass asks NP6 for (default
            `genericrobot,mpp,gsr`); sent on hit endpoints only, never written into a row.
        robot_pass: read each window's hits once more with the robot filter, so robots the
            default feed leaves out are loaded and those it holds are labelled (`is_robot`).
        range_start: read this explicit range instead of the scheduled one (backfill).
        range_end: end of the explicit range (exclusive; capped at now - safety_margin).
        max_windows: read at most this many windows (a commit group); the rest is left for the
            next run, which resumes there. A backfill never moves the scheduled cursor.
        decode_workers: processes that parse and flatten responses beside the main one
            (default: one per core; 0 decodes in this process).
        max_attempts: requests per call before giving up on 5xx, timeouts or bad bodies.
        backoff_base: first backoff ceiling in seconds (doubles per attempt, full jitter).
        max_wait: ceiling in seconds of any single wait, whatever Retry-After says.
        max_total_wait: ceiling in seconds of all rate-limit pauses of one commit group.
        min_window: a window that times out or is over `max_body_bytes` is read in halves,
            down to this size.
        max_body_bytes: split windows whose answer is larger than this (default: no limit).
        activity_horizon: recipient exports cover the actions with events this recent (`30d`).
        reactivity_horizon: reactivities re-read the send cohorts this recent (`7d`), for late
            reactions.
        max_targets: contacts fetched per run at most (one request each); the rest next run.
        refresh_targets: contacts re-read per run because they were read longest ago (besides
            the new ones and those with events newer than their last read).
        transport: an httpx transport to use instead of the network (tests).
    """
    names = select_resources(resources)
    config = feed_config(
        tables=names,
        action_ids=action_ids,
        hit_classification=hit_classification,
        window=window,
        start_date=start_date,
        lookback=lookback,
        safety_margin=safety_margin,
        range_start=range_start,
        range_end=range_end,
        max_windows=max_windows,
        min_window=min_window,
        max_body_bytes=max_body_bytes,
        robot_pass=robot_pass,
    )
    client = NP6Client(base_url, api_key, timeout=timeout, concurrency=concurrency, transport=transport,
                       max_attempts=max_attempts, backoff_base=backoff_base, max_wait=max_wait,
                       max_total_wait=max_total_wait)
    selected: list[DltResource] = []
    if "actions" in names:
        selected.append(actions(client, concurrency))
    selected.extend(dimension(client, d) for d in DIMENSION_ENDPOINTS if d.table in names)
    if "archives" in names:
        selected.append(archives(client, config))
    if "redlists" in names:
        selected.append(redlists(client, config))
    if config.tables:
        selected.extend(_event_resources(client, config, concurrency, decode_workers))
    reactivity = parse_duration(reactivity_horizon, setting="reactivity_horizon")
    selected.extend(reactivities(client, config, family, horizon=reactivity)
                    for name, family in (("action_reactivities", "actions"),
                                         ("notification_reactivities", "notifications"))
                    if name in names)  # fmt: skip
    if "campaign_events" in names:
        selected.append(campaign_events(client, config, concurrency))
    exports = [t for t in EXPORT_TABLES if t in names]
    if exports:
        horizon = parse_duration(activity_horizon, setting="activity_horizon")
        selected.extend(export_resources(client, exports, horizon=horizon, until=config.range_end,
                                         action_ids=action_ids, concurrency=concurrency))  # fmt: skip
    if "targets" in names:
        selected.append(targets(client, concurrency=concurrency, max_targets=max_targets, refresh=refresh_targets))
    return selected


def _event_resources(
    client: NP6Client, config: FeedConfig, concurrency: int, decode_workers: int | None
) -> list[DltResource]:
    """The hidden feed and its transformers: one per event table the selected feeds can fill."""
    workers = default_workers() if decode_workers is None else decode_workers
    feed = event_feed(client, config, concurrency, workers)
    push = NOTIFICATION_EVENTS in config.tables
    tables = [t for t in EVENT_TABLES if t in config.tables or (push and t in NOTIFICATION_EVENT_TABLES)]
    return [feed, *(feed | event_table(t) for t in tables), feed | windows_log(), feed | rejected_log()]
