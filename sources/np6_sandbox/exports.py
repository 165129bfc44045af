"""Recipient exports of one action: who opened, who clicked (np6-api.md §3.10, deprecated).

Routes (GET, `X-Key` required), declared as data in `ROUTES`:

    /actions/{id}/export/tracking/opens
    /actions/{id}/export/tracking/clicks

The reference documents these routes as answering `204 No Content` and says nothing of a body.
Everything below is the sandbox's choice, so nobody takes it for NP6 behaviour:

- The action's position `i` in `Account.action_ids()` decides the answer: `i % 3 == 0` a JSON
  array, `i % 3 == 1` CSV (`text/csv; charset=utf-8`), `i % 3 == 2` the documented empty 204.
- A row per contact, sorted by contact id: `id`, `unicity` (the contact's address on the action's
  channel: email or phone), `hash`, `first` and `last` (earliest and latest event, ISO-8601 UTC with
  milliseconds and `Z`), `count` (number of events). JSON objects and CSV columns in that order.
- opens = every `hit` with link type `open` of the action, clicks = link type `redirection`,
  robots included, over the whole account span (the routes take no window).
- CSV: a header line, `;` between fields, `\\r\\n` line ends, a field quoted with `"` (inner quotes
  doubled) only when it holds `;`, `"` or a line break. No catalogue value needs quoting today;
  `csv_line` is tested on values that do.
- A request whose `Accept` names neither the answer's type nor a wildcard is refused with 406; a
  204 answer has no type and accepts any `Accept`.
- There is no all-recipients route (its path is not in the reference); `recipients(..., "all")`
  (activation events) is there for the connector's tests.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

import orjson

from .data import Account
from .faults import Reply, error_reply
from .management import JSON_MEDIA_TYPE, Call, ManagementRoute, NotFound, accepts, route
from .times import from_ms

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
COLUMNS = ("id", "unicity", "hash", "first", "last", "count")
KINDS = {"opens": ("hit", "open"), "clicks": ("hit", "redirection"), "all": ("activation", None)}
_FORMATS = ("json", "csv", None)

Tally = dict[str, list[Any]]  # target id -> [target, first ms, last ms, count]


def iso_ms(ms: int) -> str:
    """`2026-10-01T08:00:00.000Z`: UTC, always three fractional digits."""
    return f"{from_ms(ms).strftime('%Y-%m-%dT%H:%M:%S')}.{ms % 1000:03d}Z"


def export_format(account: Account, action_id: str) -> str | None:
    """How the export routes answer for an action: `"json"`, `"csv"` or None (204)."""
    ids = account.action_ids()
    if action_id not in ids:
        raise NotFound(f"unknown action {action_id!r}")
    return _FORMATS[ids.index(action_id) % 3]


def _kind(kind: str) -> tuple[str, str | None]:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    return KINDS[kind]


def _tally(account: Account, start_ms: int | None, end_ms: int | None) -> dict[tuple[str, str], Tally]:
    """Per (action id, kind): each contact's first and last event time and event count."""
    lo = -(2**63) if start_ms is None else start_ms
    hi = 2**63 if end_ms is None else end_ms
    wanted = {v: k for k, v in KINDS.items()}
    out: dict[tuple[str, str], Tally] = {}
    for index in account.bucket_range(start_ms, end_ms):
        for record in account.records(index):
            ts, kind = record[0], wanted.get((record[2], record[4]))
            if kind is None or not lo <= ts < hi:
                continue
            target = record[6]
            rows = out.setdefault((record[3].id, kind), {})
            row = rows.get(target.id)
            if row is None:
                rows[target.id] = [target, ts, ts, 1]
            else:  # records come in time order: `first` never moves
                row[2], row[3] = ts, row[3] + 1
    return out


@functools.lru_cache(maxsize=16)
def _whole(account: Account) -> dict[tuple[str, str], Tally]:
    """`_tally` over the whole account, built once (accounts never change)."""
    return _tally(account, None, None)


def recipients(account: Account, action_id: str, kind: str, start_ms: int | None = None,
               end_ms: int | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """The export rows of an action (`kind`: opens, clicks or all = activations), events in
    `[start_ms, end_ms)` (None: unbounded), sorted by contact id: the ground truth of the routes."""
    _kind(kind)
    action = account.action(action_id)
    if action is None:
        raise NotFound(f"unknown action {action_id!r}")
    tally = _whole(account) if start_ms is None and end_ms is None else _tally(account, start_ms, end_ms)
    channel = 1 if action["type"].startswith("sms") else 0
    rows = tally.get((action_id, kind), {})
    return [_row(rows[target_id], channel) for target_id in sorted(rows)]


def _row(tally: list[Any], channel: int) -> dict[str, Any]:
    target, first, last, count = tally
    footprint = target.footprints[channel].obj
    return {"id": target.id, "unicity": footprint["unicity"], "hash": footprint["hash"],
            "first": iso_ms(first), "last": iso_ms(last), "count": count}  # fmt: skip


def csv_field(value: Any) -> str:
    """One CSV field: quoted (inner quotes doubled) only when it holds `;`, `"` or a line break."""
    text = str(value)
    if any(c in text for c in ';"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def csv_line(values: Iterable[Any]) -> str:
    """One CSV line with its `\\r\\n`."""
    return ";".join(map(csv_field, values)) + "\r\n"


def to_csv(rows: list[dict[str, Any]]) -> bytes:
    """The CSV body of export rows: the header line, then one line per row."""
    lines = [csv_line(COLUMNS), *(csv_line(row[c] for c in COLUMNS) for row in rows)]
    return "".join(lines).encode()


def _export(kind: str) -> Any:
    def answer(call: Call) -> Reply:
        action_id = call.groups["id"]
        fmt = export_format(call.account, action_id)
        if fmt is None:
            return Reply(204, b"")
        media_type = JSON_MEDIA_TYPE if fmt == "json" else CSV_MEDIA_TYPE
        if not accepts(call.accept, media_type):
            return error_reply(406, f"this export answers {media_type}, not {call.accept}")
        rows = recipients(call.account, action_id, kind)
        body = orjson.dumps(rows) if fmt == "json" else to_csv(rows)
        return Reply(200, body, (), media_type)

    return answer


ROUTES: tuple[ManagementRoute, ...] = (
    route("/actions/{id}/export/tracking/opens", _export("opens"), media_type=None),
    route("/actions/{id}/export/tracking/clicks", _export("clicks"), media_type=None),
)
