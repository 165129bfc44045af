"""Archives: one row per archived email, read account-wide in `[startDate, endDate)` windows.

`GET /actions/archives` (np6-api.md §3.8) answers a bare `application/vnd.np6.cm.mail.archive`
array for `startDate`/`endDate`, with no paging, like the event feeds; so the `archives` resource
reads one window per request over the run's plan (`cursors.WindowedRead`: scheduled from its own
cursor, the `archives` resource state, minus the lookback, or an explicit backfill range)
and merges on `id`, so re-reading a window adds nothing. An archive item looks like::

    {"id": "43fb9527-e5b2-4bcd-8dfd-b5a8bc881e11", "action": "00000A", "target": "000T123",
     "sendingDate": "2026-02-05T09:27:58.67Z", "url": "https://...eml?...&sig=...",
     "expiresOn": "2026-03-09T09:27:58.67Z"}

The reference gives `startDate`/`endDate` no semantics; the connector assumes they bound
`sendingDate`, start inclusive and end exclusive, like the event windows. `url` is a signed link
that expires (`expiresOn`) and may be blank (`"    "`): it is stored exactly as sent.

The lookups by key (`action_target_archives`, `target_archives`, `stamp_archives`) return the same
rows for one action and contact, one contact, or one message stamp.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import quote

import dlt

from .bookkeeping import as_window_row, for_table, window_row
from .client import Fetched, NP6Client
from .cursors import WindowedRead, scopes
from .errors import expect_array
from .normalize import parse_iso
from .run import RunContext
from .settings import (
    ACTION_TARGET_ARCHIVES_PATH,
    ARCHIVES_PATH,
    ARCHIVES_TABLE,
    STAMP_ARCHIVES_PATH,
    TARGET_ARCHIVES_PATH,
)
from .windows import Window

log = logging.getLogger("np6.archives")

Row = dict[str, Any]

_ARCHIVE_KEYS = frozenset({"id", "action", "target", "sendingDate", "url", "expiresOn"})
ARCHIVE_COLUMNS: dict[str, dict[str, Any]] = {
    "id": {"data_type": "text", "nullable": False},
    "action_id": {"data_type": "text"},
    "target_id": {"data_type": "text"},
    "sending_date": {"data_type": "timestamp", "timezone": True},
    "url": {"data_type": "text"},
    "expires_on": {"data_type": "timestamp", "timezone": True},
    "extra": {"data_type": "json"},
}


# --- pure: one archive in, one row out -------------------------------------------------------


def archive_row(item: Any) -> Row | None:
    """Flatten one archive; None when it is not an object with an id.

    Unknown members, and dates that do not parse, are kept in `extra` (JSON) under their name.
    """
    if not isinstance(item, Mapping) or item.get("id") in (None, ""):
        return None
    extra = {k: v for k, v in item.items() if k not in _ARCHIVE_KEYS}
    dates = {}
    for key in ("sendingDate", "expiresOn"):
        dates[key] = parse_iso(item.get(key))
        if dates[key] is None and item.get(key) is not None:
            extra[key] = item[key]
    return {
        "id": str(item["id"]),
        "action_id": _text(item.get("action")),
        "target_id": _text(item.get("target")),
        "sending_date": dates["sendingDate"],
        "url": item.get("url"),  # blank or expired links are kept as sent
        "expires_on": dates["expiresOn"],
        "extra": extra or None,
    }


def archive_rows(items: Iterable[Any]) -> tuple[list[Row], int]:
    """Rows of a list of archives, and how many items had no id (skipped)."""
    rows, skipped = [], 0
    for item in items:
        row = archive_row(item)
        if row is None:
            skipped += 1
        else:
            rows.append(row)
    return rows, skipped


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


# --- reads -----------------------------------------------------------------------------------


def window_params(window: Window | None) -> dict[str, str]:
    """`startDate`/`endDate` of a window (none for None: everything NP6 keeps)."""
    return {} if window is None else {"startDate": window.iso_start, "endDate": window.iso_end}


def read_archives(client: NP6Client, path: str, window: Window | None = None) -> list[Row]:
    """GET one archive list and flatten it; a body that is not an array is `NP6BadResponse`."""
    return fetch_archives(client, path, window)[0]


def fetch_archives(client: NP6Client, path: str, window: Window | None = None) -> tuple[list[Row], Fetched]:
    """`read_archives`, and what the request cost (for `_np6_windows`)."""
    context = str(window) if window else ""
    data, fetched = client.get_json(path, window_params(window), context=context)
    items = expect_array(data, f"GET {path} {context}".rstrip(), "archives", path=path, status=fetched.status)
    rows, skipped = archive_rows(items)
    if skipped:
        log.warning("GET %s %s: %d archive(s) without an id were not loaded", path, context, skipped)
    return rows, fetched


def action_target_archives(
    client: NP6Client, action_id: str, target_id: str, window: Window | None = None
) -> list[Row]:
    """Archives of one action sent to one contact (`GET /actions/{id}/targets/{target}/archives`)."""
    path = ACTION_TARGET_ARCHIVES_PATH.format(action_id=_segment(action_id), target_id=_segment(target_id))
    return read_archives(client, path, window)


def target_archives(client: NP6Client, target_id: str, window: Window | None = None) -> list[Row]:
    """Archives of every action sent to one contact (`GET /targets/{id}/archives`)."""
    return read_archives(client, TARGET_ARCHIVES_PATH.format(target_id=_segment(target_id)), window)


def stamp_archives(client: NP6Client, stamp: str) -> list[Row]:
    """The archive(s) of the message with that stamp id (`GET /actions/stamp/{id}/archives`)."""
    return read_archives(client, STAMP_ARCHIVES_PATH.format(stamp=_segment(stamp)))


def _segment(value: str) -> str:
    """One path segment, percent-encoded so an id can never change the path."""
    return quote(str(value), safe="")


# --- the resource ----------------------------------------------------------------------------


@dlt.resource(name=ARCHIVES_TABLE, write_disposition="merge")  # table hints: `for_table`
def archives(run: RunContext) -> Iterator[Any]:
    """Every archive of the account sent in the planned windows, one request per window (and
    one `_np6_windows` row per request)."""
    read = WindowedRead(run.plan, scopes([ARCHIVES_TABLE]))
    yield from run.guard(ARCHIVES_TABLE, _read_windows(run.client, read), span=read.span)


def _read_windows(client: NP6Client, read: WindowedRead) -> Iterator[Any]:
    for done, window in enumerate(read.windows, start=1):
        rows, fetched = fetch_archives(client, ARCHIVES_PATH, window)
        log.info("archives %s: %d rows [%d/%d]", window, len(rows), done, len(read.windows))
        if rows:
            yield for_table(rows, ARCHIVES_TABLE, "id", ARCHIVE_COLUMNS)
        yield as_window_row(window_row(ARCHIVES_TABLE, ARCHIVES_PATH, window, fetched, len(rows)))
        read.done(window)
