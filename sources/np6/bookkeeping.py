"""Bookkeeping rows: `_np6_windows`, one row per `[start, end)` window read, whatever resource.

The event feed, archives, redlists, reactivities, notification and campaign events all read NP6 one
window per request; each read leaves a row saying what was asked (`resource`, `endpoint`,
`action_id`, the window), what came back (`rows`, `rejected`) and what it cost (`requests`,
`retries`, `seconds`). `window_row` builds the row; `as_window_row` marks it for the
`_np6_windows` table from inside any resource, with the table's key and merge disposition, so a
resource that is not the event feed can log its windows without a transformer of its own.

A dlt table variant starts from its resource's hints: a resource that writes window rows must not
declare a primary key or columns in its decorator (the `_np6_windows` variant would inherit them,
e.g. a non-nullable `id`). It marks its own rows with `for_table` instead.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Iterator, Sequence
from typing import Any

import dlt
import orjson
import pendulum

from .client import Fetched
from .normalize import Rejected
from .settings import REJECTED_TABLE, WINDOWS_TABLE
from .windows import Window

WINDOWS_KEY = ("resource", "action_id", "window_start", "window_end")
WINDOWS_COLUMNS: dict[str, dict[str, Any]] = {
    "split_from": {"data_type": "text", "nullable": True},
    "type_changes": {"data_type": "text", "nullable": True},
    "error": {"data_type": "text", "nullable": True},
}


def window_row(
    resource: str,
    endpoint: str,
    window: Window,
    fetched: Fetched,
    rows: int,
    *,
    action_id: str | None = None,
    rejected: int = 0,
    split_from: Window | None = None,
    type_changes: str | None = None,
) -> dict[str, Any]:
    """The `_np6_windows` row of one request (`status` is `split` for a piece of a split window)."""
    return {
        "resource": resource,
        "endpoint": endpoint,
        "action_id": action_id or "",
        "window_start": window.start,
        "window_end": window.end,
        "rows": rows,
        "rejected": rejected,
        "requests": fetched.requests,
        "retries": fetched.retries,
        "seconds": round(fetched.seconds, 3),
        "status": "split" if split_from else "loaded",
        "split_from": str(split_from) if split_from else None,
        "type_changes": type_changes,
        "error": None,
        "read_at": pendulum.now("UTC"),
    }


def outcome_row(
    resource: str, endpoint: str, status: str, span: Window | None, error: str, at: pendulum.DateTime
) -> dict[str, Any]:
    """The `_np6_windows` row of a resource that stopped: `status` `unavailable` (403/404) or
    `failed`, over the range it was to read (`span`; the run's instant when it has none)."""
    start, end = (span.start, span.end) if span else (at, at)
    return {
        "resource": resource, "endpoint": endpoint, "action_id": "", "window_start": start,
        "window_end": end, "rows": 0, "rejected": 0, "requests": 0, "retries": 0, "seconds": 0.0,
        "status": status, "split_from": None, "type_changes": None, "error": error, "read_at": at,
    }  # fmt: skip


def for_table(
    items: Any,
    table: str,
    primary_key: str | Sequence[str],
    columns: dict[str, dict[str, Any]] | None = None,
) -> Any:
    """`items` (rows or an Arrow table) marked for `table`, merged on `primary_key`."""
    key = [primary_key] if isinstance(primary_key, str) else list(primary_key)
    hints = dlt.mark.make_hints(table_name=table, primary_key=key, write_disposition="merge",
                                columns=copy.deepcopy(columns))  # dlt writes into column dicts
    return dlt.mark.with_hints(items, hints, create_table_variant=True)


LOADED_DIGEST = "loaded_digest"  # resource state of a full-refresh list: the answer it last loaded


def unchanged(answer: Any) -> bool:
    """True when a full-refresh resource's NP6 answer is the one it loaded last: merging the
    same rows again changes nothing and costs a load job per table on every hourly run. Else
    remember this answer's digest, which lands with its rows (a failed load keeps neither;
    `dlt pipeline drop` and a table lost in the destination forget it)."""
    digest = hashlib.sha256(orjson.dumps(answer, option=orjson.OPT_SORT_KEYS, default=str)).hexdigest()
    state = dlt.current.resource_state()
    if state.get(LOADED_DIGEST) == digest:
        return True
    state[LOADED_DIGEST] = digest
    return False


def as_window_row(row: dict[str, Any]) -> Any:
    """`row` marked for the `_np6_windows` table (merged on resource, action and window)."""
    return for_table(row, WINDOWS_TABLE, WINDOWS_KEY, WINDOWS_COLUMNS)


def rejection_rows(path: str, window: Window, rejected: Sequence[Rejected]) -> Iterator[dict[str, Any]]:
    """The `_np6_rejected` rows of the elements of one request (`path`, `window`) that were rejected."""
    for item in rejected:
        digest = hashlib.sha1(f"{path}\n{item.raw}".encode()).hexdigest()
        yield {
            "rejection_id": digest,
            "endpoint": path,
            "window_start": window.start,
            "window_end": window.end,
            "reason": item.reason,
            "raw": item.raw,
            "rejected_at": pendulum.now("UTC"),
        }


def as_rejected_rows(path: str, window: Window, rejected: Sequence[Rejected]) -> Iterator[Any]:
    """`rejection_rows` marked for the `_np6_rejected` table, for resources other than the feed."""
    for row in rejection_rows(path, window, rejected):
        yield for_table(row, REJECTED_TABLE, "rejection_id")
