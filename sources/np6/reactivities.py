"""Reactivities: reactions (hits, bounces, …) selected by when their activation (send) happened.

`GET /actions/reactivities` and `GET /notifications/reactivities` (np6-api.md §3.3, §3.5) take two
windows: `activationStart`/`activationEnd` on the underlying activation's time and
`reactivityStart`/`reactivityEnd` on the reaction's own timestamp. They answer cohort questions
("opens of mails sent on day D") that the event tables cannot, since a hit does not say when its
send happened. The reference does not say which window is mandatory, nor the maximum span; the
connector always sends all four, starts inclusive and ends exclusive (`reactivityEnd`'s text is a
copy of `activationEnd`'s: read as the reaction timestamp bound, like `end`).

Plan: one request per cohort window `[activationStart, activationEnd)` of `config.window` size,
with `reactivityStart` = the cohort's start (no reaction precedes its send) and `reactivityEnd` =
the run's bound (now - safety margin). Scheduled runs start from the resource's own cursor minus
a reactivity horizon (7 days by default), so reactions arriving days after the send are picked
up by later runs; merge on the event `id` makes these re-reads free of duplicates. Backfills
(`range_start`/`range_end`) read that cohort range and never move the cursor.

Both families write ONE table, `reactivities`: the event tables' columns (the union of
`normalize.SCHEMAS`' event schemas), plus `event_type` (`hit`, `bounce`, `optout`, …), `family`
(`actions`/`notifications`) and `activation_start`/`activation_end`: the cohort window the row
was read for.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Any, NamedTuple

import dlt
import pendulum
import pyarrow as pa
from dlt.sources import DltResource

from .bookkeeping import as_rejected_rows, as_window_row, for_table, window_row
from .client import Fetched, NP6Client
from .cursors import WindowedRead, scopes
from .errors import NP6ConfigError, expect_array
from .normalize import (
    EVENT_TABLES,
    SCHEMAS,
    TABLE_FOR_TYPE,
    Normalized,
    normalize_events,
)
from .run import RunContext
from .windows import Window, format_instant

log = logging.getLogger("np6.reactivities")

REACTIVITIES_TABLE = "reactivities"
DEFAULT_REACTIVITY_HORIZON = timedelta(days=7)


class ReactivityFamily(NamedTuple):
    """One reactivity family: its resource name, account-wide path and per-item path."""

    family: str
    resource: str
    account_path: str
    item_path: str  # with `{item_id}`: an action id or a notification id


FAMILIES: dict[str, ReactivityFamily] = {
    "actions": ReactivityFamily(
        "actions", "action_reactivities", "/actions/reactivities", "/actions/{item_id}/reactivities"
    ),
    "notifications": ReactivityFamily(
        "notifications", "notification_reactivities", "/notifications/reactivities",
        "/notifications/{item_id}/reactivities",
    ),
}  # fmt: skip

_TYPE_OF_TABLE = {table: kind for kind, table in TABLE_FOR_TYPE.items()}
_COHORT = pa.timestamp("us", tz="UTC")


def _reactivity_schema() -> pa.Schema:
    """Every event table's columns once (first seen order, `extra` last), plus the cohort columns."""
    fields: dict[str, pa.Field[Any]] = {}
    for table in EVENT_TABLES:
        for field in SCHEMAS[table]:
            fields.setdefault(field.name, field)
    extra = fields.pop("extra")
    cohort = [pa.field("family", pa.string()), pa.field("activation_start", _COHORT),
              pa.field("activation_end", _COHORT)]  # fmt: skip
    return pa.schema([*fields.values(), *cohort, extra])


REACTIVITY_SCHEMA = _reactivity_schema()
REACTIVITY_COLUMNS: dict[str, dict[str, Any]] = {"extra": {"data_type": "json"}}


# --- pure ------------------------------------------------------------------------------------


def reactivity_params(cohort: Window, reactivity_end: pendulum.DateTime) -> dict[str, str]:
    """The four windows of one request: the cohort, and reactions from its start to the bound."""
    return {
        "activationStart": cohort.iso_start,
        "activationEnd": cohort.iso_end,
        "reactivityStart": cohort.iso_start,
        "reactivityEnd": format_instant(reactivity_end),
        "sort": "asc",
    }


def reactivity_table(normalized: Mapping[str, pa.Table], family: str, cohort: Window) -> pa.Table | None:
    """One `reactivities` table from a normalized batch: each event table conformed and stacked."""
    parts = [_conform(table, name, family, cohort) for name, table in normalized.items() if table.num_rows]
    return pa.concat_tables(parts) if parts else None


def _conform(table: pa.Table, name: str, family: str, cohort: Window) -> pa.Table:
    """`table` (one event table) with `REACTIVITY_SCHEMA`'s columns: missing ones null, cohort set."""
    n = table.num_rows
    given = {
        "event_type": pa.array([_TYPE_OF_TABLE.get(name)] * n, pa.string()),
        "family": pa.array([family] * n, pa.string()),
        "activation_start": pa.array([cohort.start] * n, _COHORT),
        "activation_end": pa.array([cohort.end] * n, _COHORT),
    }
    if "event_type" in table.column_names:  # other_events: the type NP6 sent
        del given["event_type"]
    columns = [
        table.column(f.name) if f.name in table.column_names else given.get(f.name, pa.nulls(n, f.type))
        for f in REACTIVITY_SCHEMA
    ]
    return pa.Table.from_arrays(columns, schema=REACTIVITY_SCHEMA)


def item_ids(run: RunContext, family: ReactivityFamily) -> tuple[str, ...] | None:
    """The actions read one by one (per-action cursors): `action_ids`, for the actions family."""
    return run.plan.action_ids if family.family == "actions" else None


# --- reads -----------------------------------------------------------------------------------


class CohortRead(NamedTuple):
    """One request's result: the rows (or None), the normalized batch and the request stats."""

    table: pa.Table | None
    normalized: Normalized
    fetched: Fetched


def read_cohort(
    client: NP6Client, path: str, family: str, cohort: Window, reactivity_end: pendulum.DateTime
) -> CohortRead:
    """GET the reactions of one cohort and flatten them into `reactivities` rows."""
    data, fetched = client.get_json(path, reactivity_params(cohort, reactivity_end), context=str(cohort))
    events = expect_array(data, f"GET {path} {cohort}", "events", path=path, status=fetched.status)
    normalized = normalize_events(events)
    for note in normalized.drift:
        log.warning("type change on GET %s %s: %s", path, cohort, note)
    return CohortRead(reactivity_table(normalized.tables, family, cohort), normalized, fetched)


def _cohort_items(
    client: NP6Client, family: ReactivityFamily, path: str, item_id: str | None, cohort: Window,
    bound: pendulum.DateTime,
) -> Iterator[Any]:
    """Rows, rejected elements and the `_np6_windows` row of one cohort request."""
    read = read_cohort(client, path, family.family, cohort, bound)
    rows = 0 if read.table is None else read.table.num_rows
    if read.table is not None:
        yield for_table(read.table, REACTIVITIES_TABLE, "id", REACTIVITY_COLUMNS)
    yield from as_rejected_rows(path, cohort, read.normalized.rejected)
    yield as_window_row(window_row(family.resource, path, cohort, read.fetched, rows, action_id=item_id,
                                   rejected=len(read.normalized.rejected),
                                   type_changes="; ".join(read.normalized.drift) or None))  # fmt: skip


def _targets(family: ReactivityFamily, item_ids: tuple[str, ...] | None) -> list[tuple[str, str | None]]:
    """(path, item id) pairs of a run: the account-wide path, or one per item."""
    if not item_ids:
        return [(family.account_path, None)]
    return [(family.item_path.format(item_id=item_id), item_id) for item_id in item_ids]


def reactivities(run: RunContext, family: str) -> DltResource:
    """The reactivities of one family (`actions` or `notifications`) into the `reactivities` table.

    Resource `action_reactivities` (`GET /actions/reactivities`, or `/actions/{id}/reactivities`
    per action when the plan's `action_ids`) or `notification_reactivities`
    (`GET /notifications/reactivities`); one request per cohort window, see the module docstring.

    Raises:
        NP6ConfigError: an unknown family.
    """
    if family not in FAMILIES:
        raise NP6ConfigError(f"unknown reactivity family {family!r}; known: {', '.join(FAMILIES)}")
    spec = FAMILIES[family]

    def cohorts(read: WindowedRead) -> Iterator[Any]:
        for done, cohort in enumerate(read.windows, start=1):
            for path, item_id in _targets(spec, item_ids(run, spec)):
                yield from _cohort_items(run.client, spec, path, item_id, cohort, run.plan.bound)
            log.info("%s cohort %s [%d/%d]", spec.resource, cohort, done, len(read.windows))
            read.done(cohort)

    def read() -> Iterator[Any]:
        read = WindowedRead(run.plan, scopes([spec.resource], item_ids(run, spec)),
                            lookback=run.plan.reactivity_horizon)
        yield from run.guard(spec.resource, cohorts(read), span=read.span)

    # no key or columns here: `_np6_windows` rows are a variant of this resource (`for_table`)
    return dlt.resource(read, name=spec.resource, write_disposition="merge")
