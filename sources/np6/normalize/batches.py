"""Batches: validate each element, route it on `type`, flatten it, build the tables.

`normalize_events` is the entry point of the event feeds; `_normalize` is the loop it shares
with `normalize_actions`: it never fails on one element. An element that cannot be keyed becomes
a `Rejected`; a batch's result is a `Normalized` (tables, rejects, type drift).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import partial
from typing import Any, NamedTuple

import orjson
import pyarrow as pa

from .arrow import _first_row_per_id, _tables
from .rows import (
    _NOT_PLAIN,
    _general_activation_row,
    _general_bounce_row,
    _general_cancellation_row,
    _general_execution_row,
    _general_hit_row,
    _plain_activation,
    _plain_bounce,
    _plain_cancellation,
    _plain_execution,
    _plain_hit,
    other_event_row,
)
from .schema import _MAX_MS, _MIN_MS, OTHER_TABLE, TABLE_FOR_TYPE, Obj, Row


class Rejected(NamedTuple):
    """An element that could not become a row: why (one line) and its JSON text."""

    reason: str
    raw: str


class Normalized(NamedTuple):
    """The result of a batch: one Arrow table per non-empty table name, and the rejects."""

    tables: dict[str, pa.Table]
    rejected: list[Rejected]
    # Type changes on known columns: one line per column, e.g. "hits.link_value: int where NP6
    # documents text (2 values, stored as JSON text)". The values are kept; the caller reports.
    drift: tuple[str, ...] = ()



# --------------------------------------------------------------------------------------------
# Batches: validate, route, build Arrow
# --------------------------------------------------------------------------------------------


_ROW_FUNCTIONS: dict[str, Callable[[Obj], Row]] = {
    "hits": _general_hit_row,
    "activations": _general_activation_row,
    "bounces": _general_bounce_row,
    "cancellations": _general_cancellation_row,
    "executions": _general_execution_row,
    OTHER_TABLE: other_event_row,
}


def _event_problem(event: Any) -> str | None:
    """Why an element cannot be keyed as an event, or None when it can."""
    if not isinstance(event, dict):
        return "element is not a JSON object"
    event_id = event.get("id")
    if type(event_id) is not str or not event_id:
        return "missing, empty or non-string 'id'"
    timestamp = event.get("timestamp")
    if type(timestamp) is not int:  # bool is not accepted: type(True) is bool
        return "missing or non-integer 'timestamp'"
    if not _MIN_MS <= timestamp <= _MAX_MS:
        return "'timestamp' out of range (epoch ms must fall in years 1-9999)"
    return None


def _event_table(event: Obj) -> str:
    """The table an event goes to: by its `type`, `other_events` for any other or none."""
    kind = event.get("type")
    return TABLE_FOR_TYPE.get(kind, OTHER_TABLE) if type(kind) is str else OTHER_TABLE


def _raw_json(value: Any) -> str:
    """JSON text of a rejected element (repr when it is not JSON-serialisable)."""
    try:
        return orjson.dumps(value, default=repr).decode()
    except TypeError:
        return repr(value)


# Event `type` -> (table, fast row function); see "Plain events". Actions have no fast path.
_PlainRows = Mapping[str, tuple[str, Callable[[Obj], Row | None]]]
_PLAIN_ROWS: _PlainRows = {
    "hit": ("hits", _plain_hit),
    "activation": ("activations", _plain_activation),
    "bounce": ("bounces", _plain_bounce),
    "cancellation": ("cancellations", _plain_cancellation),
    "execution": ("executions", _plain_execution),
}


def _normalize(
    items: Iterable[Any],
    problem_of: Callable[[Any], str | None],
    table_of: Callable[[Obj], str],
    row_functions: Mapping[str, Callable[[Obj], Row]],
    plain_rows: _PlainRows | None = None,
) -> Normalized:
    """Validate, route and flatten each item, then build the tables; never fail on one item.

    An item whose `type` is in `plain_rows` first tries that fast row function; when the item
    is not plain (None or an exception), it is validated, routed and flattened by the general
    functions like any other item.
    """
    rows: dict[str, list[Row]] = {table: [] for table in row_functions}
    rejected: list[Rejected] = []
    plain = plain_rows or {}
    for item in items:
        try:
            table, plain_row = plain[item["type"]]
            row = plain_row(item)
        except _NOT_PLAIN:  # not an object, no or another `type`, or not plain: see below
            row = None
        if row is not None:
            rows[table].append(row)
            continue
        problem = problem_of(item)
        if problem is None:
            table = table_of(item)
            try:
                rows[table].append(row_functions[table](item))
                continue
            except Exception as exc:  # a shape no rule foresaw: reject this item, keep the batch
                problem = f"cannot normalize ({type(exc).__name__}: {' '.join(str(exc).split())})"
        rejected.append(Rejected(problem, _raw_json(item)))
    drift: list[str] = []
    return Normalized(_tables(rows, drift), rejected, tuple(drift))


def normalize_events(events: Iterable[Any], *, robots: bool = False) -> Normalized:
    """Normalize a batch of raw NP6 events into one Arrow table per event table.

    Args:
        events: decoded JSON elements, e.g. `orjson.loads` of one window's response array.
        robots: the batch was read with the robot `classification` filter: every hit in it has
            `is_robot` true (its `classification` is still only what its payload names).

    Returns:
        The tables (keyed by name in `EVENT_TABLES`, empty ones omitted) and the rejected
        elements: not an object, `id` not a non-empty string, `timestamp` not an integer (or
        outside years 1-9999), or a shape that made a row function fail. An `id` that occurs
        more than once in a table keeps its first row only (see `_first_row_per_id`).
    """
    row_functions, plain_rows = _ROW_FUNCTIONS, _PLAIN_ROWS
    if robots:
        row_functions = {**_ROW_FUNCTIONS, "hits": partial(_general_hit_row, robot=True)}
        plain_rows = {**_PLAIN_ROWS, "hit": ("hits", partial(_plain_hit, robot=True))}
    tables, rejected, drift = _normalize(
        events, _event_problem, _event_table, row_functions, plain_rows
    )
    deduplicated = {name: _first_row_per_id(table) for name, table in tables.items()}
    return Normalized(deduplicated, rejected, drift)


def combine_normalized(parts: Sequence[Normalized]) -> Normalized:
    """One window's result from the results of its slices, in order: each table's slices
    concatenated (one row per `id` across them), the rejected and the type changes joined."""
    pieces: dict[str, list[pa.Table]] = {}
    for part in parts:
        for name, table in part.tables.items():
            pieces.setdefault(name, []).append(table)
    tables = {name: _first_row_per_id(pa.concat_tables(found)) for name, found in pieces.items()}
    rejected = [item for part in parts for item in part.rejected]
    drift = tuple(dict.fromkeys(note for part in parts for note in part.drift))
    return Normalized(tables, rejected, drift)
