"""Event resources: windowed reads of NP6 event feeds, routed into one table per event type.

NP6 event endpoints return one bare JSON array per `[start, end)` window and have no
pagination, so the window is the unit of paging, checkpointing and retry. One hidden resource,
`event_feed`, reads the windows (a few requests in flight, results consumed in window order)
and yields one `WindowBatch` per request; small transformers pick their table out of it. With
every event table selected, the feed reads the account-wide mixed feed `GET /actions/events`:
one request per window for all actions and types. With a subset, it reads the per-type feeds;
with `actions` given, the per-action feeds.

A window NP6 cannot answer in time (a timeout) or answers with a body over `max_body_bytes` is
read again as two halves, recursively, down to `min_window`; `_np6_windows` then holds one row
per piece, with `status` `split` and `split_from` naming the planned window.

Push notification events (`push.py`) ride the same feed: with the pseudo-table
`notification_events` selected, the feed lists the notifications and adds one unit per
notification and window on the all-types route (`plan_notification_units`), falling back to
one unit per type where NP6 answers 404 on it; their rows land in the event tables above
(`channel = notification`), under their own cursor scope `notification_events`. Their
`_np6_windows` rows have `resource` `notification_events` (or `notification_events:<kind>` per
type, e.g. `notification_events:hits`) and the notification id as `action_id`.

Robot pass: the reference documents a `classification` filter on the hit endpoints ("use this
parameter if you want to get the hit events classified as robot") but neither what the default
feeds return nor where a hit names its class. So each window also gets one read of its hits with
the filter (`plan_units`; resource `hits:robots` in `_np6_windows`), and `merge_robot_pass` folds
it into the default feed's hits of that window by `id`: robots the default feed left out are
added, those it held are labelled. A 403 or 404 on that read turns the pass off for the run with
one warning; the hits then carry only the labels their payload gives.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, NamedTuple

import dlt
import pendulum
import pyarrow as pa
from dlt.sources import DltResource

from .bookkeeping import (
    WINDOWS_COLUMNS,
    WINDOWS_KEY,
    outcome_row,
    rejection_rows,
    window_row,
)
from .client import Fetched, NP6Client
from .cursors import Scope, WindowedRead, plan_windows, scopes
from .decode import BadBody, decode_events, gc_paused
from .dimensions import list_dimension
from .errors import NP6AuthError, NP6BadResponse, NP6NotFound, NP6Timeout, expect_array
from .normalize import Normalized, merge_robot_hits, normalize_events
from .plan import RunPlan, SplitLimits
from .push import (
    NOTIFICATION_EVENT_PATHS,
    NOTIFICATION_EVENT_TABLES,
    NOTIFICATION_EVENTS,
    NOTIFICATION_MIXED_PATH,
    notification_ids,
)
from .run import DEADLINE, GroupBudget, Outcome, RunContext
from .settings import (
    DIMENSION_ENDPOINTS,
    EVENT_ENDPOINTS,
    EVENT_ENDPOINTS_BY_TABLE,
    MIXED_FEED_PATH,
    MIXED_ONLY_TABLES,
    REJECTED_TABLE,
    WINDOWS_TABLE,
)
from .windows import Window
from .workers import decode_stream

log = logging.getLogger("np6.events")


class ReadUnit(NamedTuple):
    """One request: a path for one window, the tables it fills and the action it is for."""

    path: str
    window: Window
    tables: tuple[str, ...]
    action_id: str | None
    classification: str | None  # the robot filter: set on the robot pass's reads only
    split_from: Window | None = None  # the planned window this piece is half (of half...) of
    label: str | None = None  # `_np6_windows` resource name, when not derived from the tables
    guess: str | None = None  # the path template, when the route is a guess (404: skip it)
    fallback: tuple[ReadUnit, ...] = ()  # what to read instead when the guessed route is missing

    @property
    def resource(self) -> str:
        """Name used in `_np6_windows`: `label`, the table, or `events` for the mixed feed."""
        if self.label:
            return self.label
        return self.tables[0] if len(self.tables) == 1 else "events"

    @property
    def robots(self) -> bool:
        """Whether this read is the robot pass (every hit it returns is a robot)."""
        return self.classification is not None


class WindowBatch(NamedTuple):
    """What one request produced: the flat tables, the rejected elements and the request stats."""

    unit: ReadUnit
    tables: dict[str, pa.Table]
    rejected: list[Any]
    fetched: Fetched
    drift: tuple[str, ...] = ()
    outcome: Outcome | None = None  # set on the batch of a feed that stopped (no tables)


def plan_units(
    windows: Sequence[Window],
    tables: Sequence[str],
    action_ids: Sequence[str] | None,
    classification: str | None = None,
) -> list[ReadUnit]:
    """Decide which requests cover `tables` over `windows`, fewest requests first.

    Every event table selected, account-wide: one mixed-feed request per window. Otherwise one
    request per window and per-type endpoint (and per action when `action_ids` is given). No
    default read carries the robot filter; with `classification` given and `hits` wanted, each
    window ends with the robot pass (`robot_units`).
    """
    wanted = [t for t in tables if t in EVENT_ENDPOINTS_BY_TABLE or t in MIXED_ONLY_TABLES]
    robots = "hits" in wanted and classification is not None
    if not action_ids and set(EVENT_ENDPOINTS_BY_TABLE) <= set(wanted):
        return [unit for w in windows for unit in (
            ReadUnit(MIXED_FEED_PATH, w, tuple(wanted), None, None),
            *(robot_units(w, None, classification) if robots else ()),
        )]  # fmt: skip
    units = []
    for window in windows:
        for endpoint in (EVENT_ENDPOINTS_BY_TABLE[t] for t in wanted if t in EVENT_ENDPOINTS_BY_TABLE):
            if not action_ids:
                units.append(ReadUnit(endpoint.account_path, window, (endpoint.table,), None, None))
                continue
            for action_id in action_ids:
                path = endpoint.action_path.format(action_id=action_id)
                units.append(ReadUnit(path, window, (endpoint.table,), action_id, None))
        if robots:
            units.extend(robot_units(window, action_ids, classification))
    return units


ROBOT_PASS = "hits:robots"  # the robot pass's `_np6_windows` resource


def robot_units(window: Window, action_ids: Sequence[str] | None, classification: str | None) -> list[ReadUnit]:
    """The robot pass of one window: the hit endpoint with the robot filter, account-wide or
    per action (so a per-action run never reads other actions' robots)."""
    hits = EVENT_ENDPOINTS_BY_TABLE["hits"]
    if not action_ids:
        return [ReadUnit(hits.account_path, window, ("hits",), None, classification, label=ROBOT_PASS)]
    return [
        ReadUnit(hits.action_path.format(action_id=a), window, ("hits",), a, classification, label=ROBOT_PASS)
        for a in action_ids
    ]


def plan_notification_units(windows: Sequence[Window], notification_ids: Sequence[str]) -> list[ReadUnit]:
    """One request per window and notification on the all-types route; where NP6 does not have
    that route (a guess), the per-type routes of `push.NOTIFICATION_EVENT_PATHS` instead."""
    return [
        ReadUnit(
            NOTIFICATION_MIXED_PATH.format(notification_id=nid), window, NOTIFICATION_EVENT_TABLES, nid,
            None, label=NOTIFICATION_EVENTS, guess=NOTIFICATION_MIXED_PATH,
            fallback=tuple(
                ReadUnit(route.path.format(notification_id=nid), window, (route.table,), nid, None,
                         label=f"{NOTIFICATION_EVENTS}:{route.kind}",
                         guess=None if route.documented else route.path)
                for route in NOTIFICATION_EVENT_PATHS
            ),
        )
        for window in windows
        for nid in notification_ids
    ]  # fmt: skip


class GuessedPaths:
    """Guessed routes NP6 answered 404 during this run: never asked again, reported once."""

    def __init__(self) -> None:
        self._missing: set[str] = set()
        self._lock = threading.Lock()

    def __contains__(self, template: object) -> bool:
        return template in self._missing

    def missing(self, unit: ReadUnit) -> None:
        """Note that `unit`'s guessed route does not exist; warn the first time only."""
        with self._lock:
            first = unit.guess not in self._missing
            self._missing.add(unit.guess or unit.path)
        if first:
            log.warning(
                "NP6 answered 404 on GET %s (a guessed route, not in the reference): skipping %s "
                "for the rest of this run%s", unit.path, unit.guess,
                "; reading its per-type routes instead" if unit.fallback else "",
            )  # fmt: skip

    def refused(self, unit: ReadUnit, status: int | None) -> None:
        """Note that NP6 refused the robot pass (403/404); warn the first time only."""
        with self._lock:
            first = ROBOT_PASS not in self._missing
            self._missing.add(ROBOT_PASS)
        if first:
            log.warning(
                "NP6 answered %s on GET %s?classification=%s (the robot pass): robot hits are "
                "labelled from their payload only for the rest of this run", status, unit.path,
                unit.classification,
            )  # fmt: skip


def _params(unit: ReadUnit) -> dict[str, Any]:
    params: dict[str, Any] = {"start": unit.window.iso_start, "end": unit.window.iso_end, "sort": "asc"}
    if unit.classification:
        params["classification"] = unit.classification
    return params


def _reread(client: NP6Client, unit: ReadUnit, bad: BadBody) -> tuple[Normalized, Fetched]:
    """A body that did not decode: read it again through the client's retry policy."""
    log.warning("GET %s %s: body was %s; reading it again", unit.path, unit.window, bad.reason)
    with gc_paused():
        data, fetched = client.get_json(unit.path, _params(unit), context=str(unit.window))
        events = expect_array(data, f"GET {unit.path} {unit.window}", "events", path=unit.path, status=fetched.status)
        return normalize_events(events, robots=unit.robots), fetched


def read_unit(
    client: NP6Client,
    unit: ReadUnit,
    workers: int,
    limits: SplitLimits = SplitLimits(),
    guessed: GuessedPaths | None = None,
) -> list[WindowBatch]:
    """Fetch one window and decode it: as it arrives, or whole in a worker process (`workers`).

    Returns one batch, or one per piece when the window had to be split; none when the unit's
    route is a guess that NP6 answered (now or earlier in the run, per `guessed`) with 404.
    """
    if unit.guess is not None and guessed is not None and unit.guess in guessed:
        return _instead(client, unit, workers, limits, guessed)
    if unit.robots and guessed is not None and ROBOT_PASS in guessed:
        return []
    splittable = unit.window.duration >= 2 * limits.min_window
    try:
        decoded, fetched = _read_streamed(client, unit, workers, limits, splittable)
    except _TooLarge as big:
        return _split(client, unit, workers, limits, str(big), guessed)
    except NP6Timeout as exc:
        return _split(client, unit, workers, limits, str(exc), guessed)
    except NP6NotFound:
        if unit.robots and guessed is not None:
            guessed.refused(unit, 404)
            return []
        if unit.guess is None or guessed is None:
            raise
        guessed.missing(unit)
        return _instead(client, unit, workers, limits, guessed)
    except NP6AuthError as exc:
        if not (unit.robots and exc.status == 403 and guessed is not None):
            raise
        guessed.refused(unit, 403)
        return []
    normalized, fetched = _reread(client, unit, decoded) if isinstance(decoded, BadBody) else (decoded, fetched)
    for note in normalized.drift:  # a type change on a known column: kept, and said out loud
        log.warning("type change on GET %s %s: %s", unit.path, unit.window, note)
    return [WindowBatch(unit, normalized.tables, normalized.rejected, fetched, normalized.drift)]


class _TooLarge(Exception):
    """A body over `max_body_bytes`: the window is read again in halves."""


def _check_size(size: int, cap: int | None) -> None:
    """Raise `_TooLarge` when `size` bytes of a body are over `cap` (no cap: None or 0)."""
    if cap and size > cap:
        raise _TooLarge(f"body of {size:,} bytes (or more) over max_body_bytes={cap:,}")


class _BrokenBody(Exception):
    """A streamed body that broke off: nothing of it is used, the window is read again whole."""


def _capped(chunks: Iterator[bytes], cap: int | None) -> Iterator[bytes]:
    """`chunks`, stopping with `_TooLarge` once more than `cap` bytes came (no cap: None or 0),
    and with `_BrokenBody` when the connection broke off in the middle."""
    received = 0
    try:
        for chunk in chunks:
            received += len(chunk)
            _check_size(received, cap)
            yield chunk
    except NP6BadResponse as exc:
        raise _BrokenBody(str(exc)) from None


def _read_streamed(
    client: NP6Client, unit: ReadUnit, workers: int, limits: SplitLimits, splittable: bool
) -> tuple[Normalized | BadBody, Fetched]:
    """Read one window and decode it as it arrives (see `workers.decode_stream`)."""
    cap = limits.max_body_bytes if splittable else None
    try:
        with client.stream(unit.path, _params(unit), context=str(unit.window), split_on_timeout=splittable) as got:
            if not got.content_type.lower().startswith("text/"):
                return decode_stream(_capped(got.chunks, cap), unit.robots, workers), got.fetched()
            log.warning("GET %s %s: answered with content-type %s, not JSON; reading it again",
                        unit.path, unit.window, got.content_type)  # fmt: skip
    except _BrokenBody as exc:
        log.warning("%s; reading it again", exc)
    # Outside the stream, whose connection slot is free again: the whole body, judged and
    # retried by the client's policy (an HTML page from a proxy, a connection that broke off).
    return _read_whole(client, unit, limits, splittable)


def _read_whole(
    client: NP6Client, unit: ReadUnit, limits: SplitLimits, splittable: bool
) -> tuple[Normalized | BadBody, Fetched]:
    """Read one window's whole body (retried as the client's policy says), then decode it."""
    fetched = client.get(unit.path, _params(unit), context=str(unit.window), split_on_timeout=splittable)
    _check_size(len(fetched.body), limits.max_body_bytes if splittable else None)
    return decode_events(fetched.body, unit.robots), fetched


def _instead(
    client: NP6Client, unit: ReadUnit, workers: int, limits: SplitLimits, guessed: GuessedPaths
) -> list[WindowBatch]:
    """The batches of `unit`'s fallback units (none when it has none): its route is missing."""
    return [batch for other in unit.fallback for batch in read_unit(client, other, workers, limits, guessed)]


def _split(
    client: NP6Client,
    unit: ReadUnit,
    workers: int,
    limits: SplitLimits,
    reason: str,
    guessed: GuessedPaths | None = None,
) -> list[WindowBatch]:
    """Read `unit`'s window as two halves (each may split again)."""
    log.warning("%s; reading %s %s in two halves", reason, unit.path, unit.window)
    origin = unit.split_from or unit.window
    return [
        batch
        for half in unit.window.halves()
        for batch in read_unit(client, unit._replace(window=half, split_from=origin), workers, limits, guessed)
    ]


def read_batches(
    client: NP6Client,
    units: Sequence[ReadUnit],
    concurrency: int,
    workers: int = 0,
    limits: SplitLimits = SplitLimits(),
    budget: GroupBudget | None = None,
) -> Iterator[WindowBatch]:
    """Read `units` with up to `concurrency` requests in flight; yield them in plan order.

    Each finished read counts its rows in `budget`; before the first unit of each new window,
    the budget may say stop (`GroupBudget.more`): no unit of that window or later is sent, so
    the batches yielded cover whole windows. A guessed route answering 404 is skipped for the
    rest of this call (see `GuessedPaths`).
    """
    guessed = GuessedPaths()
    pending: deque[Future[list[WindowBatch]]] = deque()
    todo = _while(units, lambda: budget is None or budget.more(len(pending)))
    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="np6") as threads:
        for unit in todo:
            pending.append(threads.submit(read_unit, client, unit, workers, limits, guessed))
            if len(pending) >= max(1, concurrency):
                break
        while pending:
            batches = pending.popleft().result()
            if budget is not None:
                budget.add(sum(t.num_rows for b in batches for t in b.tables.values()))
            next_unit = next(todo, None)
            if next_unit is not None:
                pending.append(threads.submit(read_unit, client, next_unit, workers, limits, guessed))
            yield from batches


def _while(units: Sequence[ReadUnit], more: Callable[[], bool]) -> Iterator[ReadUnit]:
    """`units` until `more()` says no at the start of a window."""
    current: Window | None = None
    for unit in units:
        if current is not None and unit.window != current and not more():
            return
        current = unit.window
        yield unit


def merge_robot_pass(batches: Iterator[WindowBatch]) -> Iterator[WindowBatch]:
    """Fold each window's robot pass into the hits the default feed read for that window.

    Batches arrive in plan order, the robot pass after the default reads of its window (see
    `plan_units`), so the batches of one planned window are held until the next window starts:
    a robot hit the default feed also returned becomes one row labelled robot, and the robot
    batch keeps only the hits the default feed left out (see `normalize.merge_robot_hits`).
    """
    held: list[WindowBatch] = []
    for batch in batches:
        if held and _window_of(held[0]) != _window_of(batch):
            yield from held
            held = []
        robots = batch.tables.get("hits") if batch.unit.robots else None
        if robots is not None:
            held, batch = _fold(held, batch, robots)
        held.append(batch)
    yield from held


def _fold(held: list[WindowBatch], batch: WindowBatch, robots: pa.Table) -> tuple[list[WindowBatch], WindowBatch]:
    """`held` with the robots of `batch` labelled in their hits, and `batch` without those."""
    index = [i for i, b in enumerate(held) if b.tables.get("hits") is not None]
    labelled, rest = merge_robot_hits([held[i].tables["hits"] for i in index], robots)
    held = list(held)
    for i, hits in zip(index, labelled):
        held[i] = held[i]._replace(tables={**held[i].tables, "hits": hits})
    return held, batch._replace(tables={**batch.tables, "hits": rest})


def window_record(batch: WindowBatch) -> dict[str, Any]:
    """The `_np6_windows` row for one request: what was read, how much, how hard it was."""
    unit = batch.unit
    return window_row(
        unit.resource,
        unit.path,
        unit.window,
        batch.fetched,
        sum(t.num_rows for t in batch.tables.values()),
        action_id=unit.action_id,
        rejected=len(batch.rejected),
        split_from=unit.split_from,
        type_changes="; ".join(batch.drift) or None,
    )


def rejected_records(batch: WindowBatch) -> Iterator[dict[str, Any]]:
    """`_np6_rejected` rows: elements that could not be mapped, kept with the reason and raw JSON."""
    return rejection_rows(batch.unit.path, batch.unit.window, batch.rejected)


# --- planning: which windows the feed reads, and its cursors -----------------------------------

FEED = "events"  # the outcome name of the event feed (its tables share it)


def feed_tables(plan: RunPlan) -> tuple[str, ...]:
    """The selected resources the feed fills: event tables and `notification_events`."""
    return tuple(t for t in plan.resources if t in FEED_TABLES)


def feed_scopes(plan: RunPlan) -> list[Scope]:
    """The feed's cursors: one per event table (and action, per-action), one for push events."""
    tables = feed_tables(plan)
    events = scopes([t for t in tables if t != NOTIFICATION_EVENTS], plan.action_ids)
    return events + (scopes([NOTIFICATION_EVENTS]) if NOTIFICATION_EVENTS in tables else [])


def feed_windows(plan: RunPlan, source_state: dict[str, Any]) -> list[Window]:
    """Every window the feed reads in this run, planned from the source state."""
    return plan_windows(plan, source_state, feed_scopes(plan))


def _window_of(batch: WindowBatch) -> Window:
    """The planned window a batch belongs to (a split piece belongs to the window it came from)."""
    return batch.unit.split_from or batch.unit.window


@dlt.resource(name="event_feed", selected=False)
def event_feed(run: RunContext) -> Iterator[WindowBatch]:
    """Yield one `WindowBatch` per request of the plan, moving the cursors window by window.

    dlt commits the source state together with the rows of the same load, so a window counts
    as done only once its rows are in the destination. The windows are the commit group's
    share when the runner gives one (`run.feed_windows`), else the whole plan.
    """
    read = WindowedRead(run.plan, feed_scopes(run.plan), windows=run.feed_windows)
    yield from run.guard(FEED, _feed_batches(run, read), span=read.span, on_stop=outcome_batch)


def _feed_batches(run: RunContext, read: WindowedRead) -> Iterator[WindowBatch]:
    plan, tables = run.plan, feed_tables(run.plan)
    units = plan_units(read.windows, tables, plan.action_ids, plan.classification)
    if NOTIFICATION_EVENTS in tables and read.windows and not run.stopped(NOTIFICATION_EVENTS):
        pushed = yield from _notification_units(run, read)
        units = sorted(units + pushed, key=lambda unit: unit.window.start)  # stable: per window
    budget = run.budget or GroupBudget()
    batches = merge_robot_pass(
        read_batches(run.client, units, plan.concurrency, plan.decode_workers, plan.limits, budget))
    for done, batch in enumerate(read.track(batches, _window_of, cut_short=lambda: budget.spent), start=1):
        budget.windows_done = read.completed
        log.info(
            "%s%s %s: %d rows, %d request(s) [%d/%d]",
            batch.unit.resource,
            f" {batch.unit.action_id}" if batch.unit.action_id else "",
            batch.unit.window,
            sum(t.num_rows for t in batch.tables.values()),
            batch.fetched.requests,
            done,
            len(units),
        )
        yield batch
    budget.windows_done = read.completed


def _notification_units(run: RunContext, read: WindowedRead) -> Generator[WindowBatch, None, list[ReadUnit]]:
    """The push units of the windows; none, and an outcome batch, when the notification list is
    unavailable (the event units of the feed go on)."""
    listed: list[list[str]] = []
    yield from run.guard(NOTIFICATION_EVENTS, _listed(run, listed), span=read.span, on_stop=outcome_batch)
    return plan_notification_units(read.windows, listed[0]) if listed else []


def _listed(run: RunContext, into: list[list[str]]) -> Iterator[WindowBatch]:
    """The notification ids, from the run's one `GET /notifications` (the dimension reads it too)."""
    into.append(notification_ids(list_dimension(run, NOTIFICATIONS_LIST)))
    yield from ()


NOTIFICATIONS_LIST = next(d for d in DIMENSION_ENDPOINTS if d.table == "notifications")


NO_FETCH = Fetched(b"", 0, "", 0, 0, 0.0, 0.0)


def outcome_batch(outcome: Outcome, span: Window | None) -> WindowBatch | None:
    """The batch that carries a stopped feed's `_np6_windows` row to its transformer."""
    if outcome.status == DEADLINE or span is None:
        return None
    unit = ReadUnit(outcome.endpoint or MIXED_FEED_PATH, span, (), None, None, label=outcome.resource)
    return WindowBatch(unit, {}, [], NO_FETCH, outcome=outcome)


def event_table(table: str) -> DltResource:
    """A transformer that keeps `table`'s rows out of each `WindowBatch`."""

    def pick(batch: WindowBatch) -> Iterator[pa.Table]:
        found = batch.tables.get(table)
        if found is not None and found.num_rows:
            yield found

    return dlt.transformer(
        pick,
        name=table,
        primary_key="id",
        # No explicit strategy: each destination's default keeps one row per id (delete-insert
        # on SQL warehouses, which deduplicates its staging table unless `pipelines.staging`
        # found it unique; upsert on Delta). Not
        # insert-only: its MERGE does not deduplicate staging, and a load job re-run after a kill
        # (COPY committed, completion not recorded) would stage the same rows twice.
        write_disposition="merge",
        columns={"extra": {"data_type": "json"}},
    )


def windows_log() -> DltResource:
    """Bookkeeping: one `_np6_windows` row per window read (see DATA-MODEL)."""

    def record(batch: WindowBatch) -> Iterator[dict[str, Any]]:
        if batch.outcome is None:
            yield window_record(batch)
            return
        out = batch.outcome
        yield outcome_row(out.resource, out.endpoint, out.status, batch.unit.window, out.message, pendulum.now("UTC"))

    return dlt.transformer(
        record,
        name=WINDOWS_TABLE,
        primary_key=WINDOWS_KEY,
        write_disposition="merge",
        columns=WINDOWS_COLUMNS,
    )


def rejected_log() -> DltResource:
    """Elements NP6 sent that could not be mapped to a row, with the reason: nothing disappears."""

    def record(batch: WindowBatch) -> Iterator[dict[str, Any]]:
        yield from rejected_records(batch)

    return dlt.transformer(record, name=REJECTED_TABLE, primary_key="rejection_id", write_disposition="merge")


def event_resources(run: RunContext) -> list[DltResource]:
    """The hidden feed and its transformers: one per event table the selected feeds can fill."""
    tables = feed_tables(run.plan)
    push = NOTIFICATION_EVENTS in tables
    fills = [t for t in EVENT_TABLES if t in tables or (push and t in NOTIFICATION_EVENT_TABLES)]
    feed = event_feed(run)
    return [feed, *(feed | event_table(t) for t in fills), feed | windows_log(), feed | rejected_log()]


EVENT_TABLES = tuple(e.table for e in EVENT_ENDPOINTS) + MIXED_ONLY_TABLES
# What `FeedConfig.tables` may hold: the event tables and the `notification_events` pseudo-table.
FEED_TABLES = EVENT_TABLES + (NOTIFICATION_EVENTS,)
