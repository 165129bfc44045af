"""Redlists: the mail and SMS suppression timelines (resource and table `redlists`).

`redlists` reads the suppression timelines `GET /targets/redlist/mail|sms?startDate&endDate` in
windows planned like the archives (own cursor `redlists`), merged on (channel, target id,
timestamp), with one `_np6_windows` row per window. A contact's current redlist entries are the
`redlist_*` columns of `targets` (`targets.py`).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import dlt
import orjson
import pendulum
from dlt.sources import DltResource

from .archives import window_params
from .bookkeeping import as_window_row, for_table, window_row
from .client import Fetched, NP6Client
from .cursors import WindowedRead, scopes
from .errors import NP6BadResponse
from .normalize import parse_iso
from .run import RunContext
from .settings import REJECTED_TABLE
from .windows import Window

log = logging.getLogger("np6.contacts")  # the logger of contacts.py, which this was part of

Row = dict[str, Any]

REDLISTS_TABLE = "redlists"
REDLIST_PATHS = {"mail": "/targets/redlist/mail", "sms": "/targets/redlist/sms"}

# np6-api.md §3.11, the `origin` enum of the redlist operations.
ORIGIN_LABELS = {
    0: "Unknown type", 1: "Listed by API", 2: "Listed by imports", 3: "Listed by form",
    4: "Listed in unsubscribe redlist", 5: "Listed in complaint", 6: "Listed in SMS Stop",
    7: "Listed in SMS Blacklist", 8: "Listed in SMS administrative", 9: "Listed in SMS specific",
}  # fmt: skip

REDLIST_KEY = ["channel", "target_id", "timestamp"]
REDLIST_COLUMNS: dict[str, dict[str, Any]] = {
    "channel": {"data_type": "text", "nullable": False},
    "target_id": {"data_type": "text", "nullable": False},
    "timestamp": {"data_type": "timestamp", "timezone": True, "nullable": False},
    "origin": {"data_type": "bigint"},
    "origin_label": {"data_type": "text"},
    "detail": {"data_type": "json"},
    "extra": {"data_type": "json"},
}
_REDLIST_ITEM_KEYS = frozenset({"id", "timestamp", "origin", "detail"})


# --- pure: redlist timelines ----------------------------------------------------------------


def redlist_row(channel: str, item: Any) -> Row | None:
    """One redlist timeline element as a `redlists` row; None without an id or a timestamp.

    `origin` is NP6's int enum (its label in `origin_label`, null when unknown); `detail` is
    kept as sent; other members go to `extra`.
    """
    if not isinstance(item, Mapping) or item.get("id") in (None, ""):
        return None
    at = parse_iso(item.get("timestamp"))
    if at is None:
        return None
    origin = item.get("origin")
    extra = {k: v for k, v in item.items() if k not in _REDLIST_ITEM_KEYS}
    if origin is not None and (not isinstance(origin, int) or isinstance(origin, bool)):
        extra["origin"], origin = origin, None
    return {"channel": channel, "target_id": str(item["id"]), "timestamp": at, "origin": origin,
            "origin_label": ORIGIN_LABELS.get(origin) if origin is not None else None,
            "detail": item.get("detail"), "extra": extra or None}  # fmt: skip


def redlist_rows(channel: str, items: Iterable[Any]) -> tuple[list[Row], list[Any]]:
    """Rows of one timeline, and the elements that could not be rows (rejected)."""
    rows, rejected = [], []
    for item in items:
        row = redlist_row(channel, item)
        if row is None:
            rejected.append(item)
        else:
            rows.append(row)
    return rows, rejected


# --- reads -----------------------------------------------------------------------------------


def fetch_redlist(client: NP6Client, channel: str, window: Window) -> tuple[list[Any], Fetched]:
    """One redlist timeline window (`GET /targets/redlist/{mail|sms}?startDate&endDate`).

    The reference documents the answer as "No Content" (np6-api.md §3.11), surely an omission:
    a 204 or an empty body is read as no entries, a JSON array as the entries.
    """
    path = REDLIST_PATHS[channel]
    fetched = client.get(path, window_params(window), context=str(window))
    if not fetched.body.strip():
        return [], fetched
    try:
        data = orjson.loads(fetched.body)
    except orjson.JSONDecodeError:
        data = fetched.body
    if not isinstance(data, list):
        what = f"a JSON {type(data).__name__}" if not isinstance(data, bytes) else "a body that is not JSON"
        raise NP6BadResponse(f"NP6 answered GET {path} {window} with {what}, expected an array of redlist entries",
                             status=fetched.status, path=path)  # fmt: skip
    return data, fetched


# --- the resource ----------------------------------------------------------------------------


def _combined(fetches: Sequence[Fetched]) -> Fetched:
    """One request record for the two channel reads of a window (`_np6_windows` keys on the
    window, not the endpoint)."""
    return Fetched(b"", fetches[-1].status, fetches[-1].content_type, sum(f.requests for f in fetches),
                   sum(f.retries for f in fetches), sum(f.waited for f in fetches),
                   sum(f.seconds for f in fetches))  # fmt: skip


def rejected_row(path: str, window: Window, item: Any) -> Any:
    """A redlist element that could not be a row, for `_np6_rejected` (same shape as the events')."""
    raw = orjson.dumps(item, default=str).decode()
    return dlt.mark.with_hints(
        {"rejection_id": hashlib.sha1(f"{path}\n{raw}".encode()).hexdigest(), "endpoint": path,
         "window_start": window.start, "window_end": window.end,
         "reason": "redlist entry without id or ISO timestamp", "raw": raw, "rejected_at": pendulum.now("UTC")},
        dlt.mark.make_hints(table_name=REJECTED_TABLE, primary_key="rejection_id", write_disposition="merge"),
        create_table_variant=True,
    )  # fmt: skip


def _redlist_window(client: NP6Client, window: Window) -> Iterator[Any]:
    """Both channels of one window: rows, rejected elements and the `_np6_windows` row."""
    fetches, count, rejected_count = [], 0, 0
    for channel, path in REDLIST_PATHS.items():
        items, fetched = fetch_redlist(client, channel, window)
        rows, rejected = redlist_rows(channel, items)
        fetches.append(fetched)
        count, rejected_count = count + len(rows), rejected_count + len(rejected)
        if rows:
            yield for_table(rows, REDLISTS_TABLE, REDLIST_KEY, REDLIST_COLUMNS)
        yield from (rejected_row(path, window, item) for item in rejected)
    endpoint = ", ".join(REDLIST_PATHS.values())
    yield as_window_row(window_row(REDLISTS_TABLE, endpoint, window, _combined(fetches), count,
                                   rejected=rejected_count))  # fmt: skip


def redlists(run: RunContext) -> DltResource:
    """Mail and SMS redlist timelines in the planned windows (resource and table `redlists`),
    merged on (channel, target_id, timestamp)."""

    def windows(read: WindowedRead) -> Iterator[Any]:
        for done, window in enumerate(read.windows, start=1):
            yield from _redlist_window(run.client, window)
            log.info("redlists %s [%d/%d]", window, done, len(read.windows))
            read.done(window)

    def read() -> Iterator[Any]:
        read = WindowedRead(run.plan, scopes([REDLISTS_TABLE]))
        yield from run.guard(REDLISTS_TABLE, windows(read), span=read.span)

    return dlt.resource(read, name=REDLISTS_TABLE, write_disposition="merge")  # tables: see `for_table`
