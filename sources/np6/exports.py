"""Recipient exports: one row per (action, recipient) for recipients, openers and clickers.

NP6 lists three "Export a list of … recipients" operations (np6-api.md §3.10). Two have a path,
both deprecated and documented with a "No Content" answer and no body:
`GET /actions/{id}/export/tracking/opens` and `GET /actions/{id}/export/tracking/clicks`. The
all-recipients path is not in the reference. So:

- `action_openers` / `action_clickers` read the export of every active action and parse the body
  by its content type, as it arrives (`export_bodies.py`): a JSON array (split into top-level
  elements from the byte chunks, parsed with orjson a batch at a time) or CSV (`;` or `,`, told
  apart by the header).
  Columns are matched tolerantly (`id`/`targetId`/`target`, `unicity`/`email`/`address`, `hash`,
  `first`/`firstDate`, `last`/`lastDate`, `count`); any other column is kept in `extra`.
- Where the export gives nothing (204 or an empty body), that action's rows are derived from the
  warehouse: `hits` with `hit_type` `open` / `redirection`, grouped per receiver.
- `action_recipients` is always derived from `activations`.

The `source` column says which: `export` or `derived`. An export of a million rows never needs a
million rows in memory: rows go out as Arrow tables of at most `BATCH_ROWS`.

Which actions: those with a hit or activation in the warehouse newer than now minus `horizon`
(the end of the range minus `horizon` for a backfill; these resources run after the event
tables of the same run are loaded; without those tables they warn and load nothing), or the
`action_ids` given. A scheduled run exports only those whose events changed since its last
export (their count or newest instant, kept per action in the resource state for the actions
inside the horizon only): an hour with no new event exports nothing, although the lookback
merges the last hour's events again. Each export is read whole and merged on
`(action_id, receiver_id)`, so a re-run adds no rows. Up to `concurrency` exports
are read at once; a 404 (a deleted action) is skipped with a warning, a 401/403 stops the run.
Derived openers and clickers count human hits only: a hit with `is_robot` (an Apple Mail Privacy
Proxy prefetch, a link scanner) is nobody opening or clicking. The export, where NP6 answers one,
counts what NP6 counts.
"""

from __future__ import annotations

import csv
import logging
import tempfile
from collections import Counter
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import IO, Any, NamedTuple
from urllib.parse import quote

import dlt
import orjson
import pyarrow as pa
from dlt.sources import DltResource

from . import warehouse
from .dimensions import warn_deprecated
from .errors import NP6AuthError, NP6BadResponse, NP6NotFound
from .export_bodies import Record, export_records
from .normalize import parse_iso
from .parallel import ordered_map
from .run import RunContext
from .warehouse import action_activity, derived_sql, read_back

log = logging.getLogger("np6.exports")

Row = tuple[Any, ...]

EXPORT_TABLES = ("action_recipients", "action_openers", "action_clickers")
EXPORT_KEY = ("action_id", "receiver_id")
# The sandbox answers JSON or CSV; the reference does not say which NP6 sends (np6-api.md §3.10).
EXPORT_ACCEPT = "application/json, text/csv;q=0.9, */*;q=0.1"
BATCH_ROWS = 50_000  # rows per Arrow table yielded
SQL_IN_CHUNK = 500  # action ids per derived query
SPOOL_MEMORY = 8 << 20  # bytes of an export kept in memory before it spills to a temporary file
READ_BYTES = 1 << 16  # bytes read from a spooled export at a time


class RecipientExport(NamedTuple):
    """One recipient table: its NP6 export path (None: derived only) and the events it counts."""

    table: str
    path: str | None
    event_table: str
    hit_type: str | None
    description: str


EXPORTS: dict[str, RecipientExport] = {
    e.table: e
    for e in (
        RecipientExport("action_recipients", None, "activations", None,
                        "recipients of each action (derived from activations: the export has no path)"),
        RecipientExport("action_openers", "/actions/{action_id}/export/tracking/opens", "hits", "open",
                        "openers of each action (NP6 export, else derived from open hits)"),
        RecipientExport("action_clickers", "/actions/{action_id}/export/tracking/clicks", "hits",
                        "redirection", "clickers of each action (NP6 export, else derived from clicks)"),
    )
}  # fmt: skip

COLUMN_NAMES = ("action_id", "receiver_id", "receiver_unicity", "receiver_hash", "first_at", "last_at",
                "count", "source", "extra")  # fmt: skip
_TS = pa.timestamp("us", tz="UTC")
ARROW_SCHEMA = pa.schema([
    pa.field("action_id", pa.string(), nullable=False), pa.field("receiver_id", pa.string(), nullable=False),
    ("receiver_unicity", pa.string()), ("receiver_hash", pa.string()), ("first_at", _TS), ("last_at", _TS),
    ("count", pa.int64()), ("source", pa.string()), ("extra", pa.string()),
])  # fmt: skip
EXPORT_COLUMNS: dict[str, dict[str, Any]] = {
    "action_id": {"data_type": "text", "nullable": False},
    "receiver_id": {"data_type": "text", "nullable": False},
    "receiver_unicity": {"data_type": "text"},
    "receiver_hash": {"data_type": "text"},
    "first_at": {"data_type": "timestamp", "timezone": True},
    "last_at": {"data_type": "timestamp", "timezone": True},
    "count": {"data_type": "bigint"},
    "source": {"data_type": "text", "description": "export (the NP6 export) or derived (from events)"},
    "extra": {"data_type": "json"},
}


# --- pure: column names and values ----------------------------------------------------------

_ALIASES = {
    "receiver_id": ("id", "targetid", "target", "receiverid", "contactid"),
    "receiver_unicity": ("unicity", "email", "address", "phone", "mobile"),
    "receiver_hash": ("hash", "receiverhash"),
    "first_at": ("first", "firstdate", "firstat"),
    "last_at": ("last", "lastdate", "lastat"),
    "count": ("count", "total"),
}
_ALIAS_OF = {alias: column for column, aliases in _ALIASES.items() for alias in aliases}
_BAD = object()  # a value of the wrong shape: kept in `extra` instead


@lru_cache(maxsize=1024)
def column_for(name: str) -> str | None:
    """The recipient column an export column name maps to (`targetId` -> `receiver_id`), or None."""
    key = "".join(ch for ch in str(name).lower() if ch.isalnum())
    return _ALIAS_OF.get(key)


def _text(value: Any) -> Any:
    if value is None or value == "":
        return None
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value)
    return _BAD


def _instant(value: Any) -> Any:
    """ISO-8601 text, or epoch milliseconds like event timestamps."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        parsed = parse_iso(value.strip())
        return _BAD if parsed is None else parsed
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 253402300800000:
        return datetime.fromtimestamp(value / 1000, UTC)
    return _BAD


def _count(value: Any) -> Any:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return _BAD
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return _BAD


_CONVERT: dict[str, Callable[[Any], Any]] = {
    "receiver_id": _text, "receiver_unicity": _text, "receiver_hash": _text,
    "first_at": _instant, "last_at": _instant, "count": _count,
}  # fmt: skip


def recipient_row(action_id: str, record: Record) -> Row | None:
    """One exported recipient as a row in `COLUMN_NAMES` order; None without a receiver id.

    A column no alias matches, a second column for the same field, and a value of the wrong
    shape (a date that does not parse, a count that is not a whole number) go to `extra`.
    """
    values: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for name, value in record:
        column = column_for(name)
        if column is None or column in values:
            extra[name] = value
            continue
        converted = _CONVERT[column](value)
        if converted is _BAD:
            extra[name], converted = value, None
        values[column] = converted
    receiver = values.get("receiver_id")
    if receiver is None:
        return None
    return (action_id, receiver, values.get("receiver_unicity"), values.get("receiver_hash"),
            values.get("first_at"), values.get("last_at"), values.get("count"), "export",
            orjson.dumps(extra).decode() if extra else None)  # fmt: skip


def rows_table(rows: Sequence[Row]) -> pa.Table:
    """Rows in `COLUMN_NAMES` order as an Arrow table of `ARROW_SCHEMA`."""
    columns = list(zip(*rows)) if rows else [()] * len(COLUMN_NAMES)
    return pa.Table.from_arrays(
        [pa.array(values, type=field.type) for values, field in zip(columns, ARROW_SCHEMA)],
        schema=ARROW_SCHEMA,
    )


def recipient_tables(
    action_id: str, records: Iterable[Record], batch_rows: int = BATCH_ROWS
) -> Iterator[pa.Table]:
    """Arrow tables of at most `batch_rows` rows from exported records (no receiver id: skipped)."""
    rows: list[Row] = []
    for record in records:
        row = recipient_row(action_id, record)
        if row is None:
            continue
        rows.append(row)
        if len(rows) >= batch_rows:
            yield rows_table(rows)
            rows = []
    if rows:
        yield rows_table(rows)


# --- derived rows: the warehouse's events as recipient rows ----------------------------------


def derived_tables(dataset: Any, export: RecipientExport, action_ids: Sequence[str]) -> Iterator[pa.Table]:
    """The rows of `export` for `action_ids` computed from the warehouse, `source` = `derived`."""
    for start in range(0, len(action_ids), SQL_IN_CHUNK):
        relation = dataset(derived_sql(export, action_ids[start: start + SQL_IN_CHUNK]))
        for rows in relation.iter_fetch(BATCH_ROWS):
            if rows:
                yield rows_table([_derived_row(*row) for row in rows])


def _derived_row(action_id: Any, receiver_id: Any, *aggregates: Any) -> Row:
    """A query row (unicity, hash, first, last, count after the key) in `COLUMN_NAMES` order."""
    return (str(action_id), str(receiver_id), *aggregates, "derived", None)


# --- reading the exports --------------------------------------------------------------------


def export_path(export: RecipientExport, action_id: str) -> str:
    """`/actions/000PE4/export/tracking/opens`."""
    assert export.path is not None
    return export.path.format(action_id=quote(str(action_id), safe=""))


class Download(NamedTuple):
    """One action's export as NP6 answered it: spooled (memory up to `SPOOL_MEMORY`, then a
    temporary file), or no body at all (`spool` None: a 404)."""

    action_id: str
    path: str
    status: int
    content_type: str
    spool: IO[bytes] | None


def download_export(run: RunContext, export: RecipientExport, action_id: str) -> Download:
    """Stream one action's export into a spool and give the request's slot back.

    Parsing happens later, in the consumer: a body is never held open (with its concurrency slot)
    while dlt extracts another resource that needs a slot too. A 404 (no export for that action,
    or the action is gone) gives no body: the action's rows are derived from its events. A 403
    (this key may not export) does the same, and no further export of `export.table` is asked
    for in this run.

    Raises:
        NP6BadResponse: the body broke off (names the path).
        NP6AuthError: 401: the key was rejected (never skipped).
    """
    path = export_path(export, action_id)
    refused = run.notes.get(f"export {export.table}")
    if refused:
        return Download(action_id, path, 403, "", None)
    try:
        with run.client.stream(path, context=f"action {action_id}", accept=EXPORT_ACCEPT) as body:
            warn_deprecated(run, export.path or path, "the reference names no other way to export recipients")
            spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY)  # noqa: SIM115 (handed over)
            for chunk in body.chunks:
                spool.write(chunk)
            spool.seek(0)
            return Download(action_id, path, body.status, body.content_type, spool)
    except NP6NotFound:
        log.info("%s: GET %s answered 404: derived from the events of action %s", export.table, path, action_id)
        return Download(action_id, path, 404, "", None)
    except NP6AuthError as exc:
        if exc.status != 403:
            raise
        run.notes[f"export {export.table}"] = str(exc)
        run.warn_once(f"export {export.table}", "%s: %s; derived from the loaded events for this run",
                      export.table, exc)
        return Download(action_id, path, 403, "", None)


def parse_download(download: Download) -> Generator[pa.Table, None, str]:
    """The rows of a downloaded export as Arrow tables; returns `export`, or `none` when NP6 gave
    no body or answered 403/404 (derive the action from its events).

    Raises:
        NP6BadResponse: the body is neither JSON nor CSV, or is broken (names action and path).
    """
    if download.spool is None:
        return "none"
    seen: Counter[str] = Counter()
    where = f"GET {download.path} (action {download.action_id}, content-type {download.content_type or 'none'})"
    with download.spool as spool:
        chunks = iter(lambda: spool.read(READ_BYTES), b"")
        try:
            records = export_records(download.content_type, chunks)
            for table in recipient_tables(download.action_id, _counted(records or (), seen)):
                seen["rows"] += table.num_rows
                yield table
        except (ValueError, csv.Error) as exc:
            raise NP6BadResponse(f"NP6 answered {where} with a body that cannot be read: {exc}",
                                 status=download.status, path=download.path) from None
    if seen["records"] > seen["rows"]:
        log.warning("%s: %d row(s) without a receiver id were not loaded", where, seen["records"] - seen["rows"])
    return "none" if records is None else "export"


def read_export(run: RunContext, export: RecipientExport, action_id: str) -> Generator[pa.Table, None, str]:
    """`download_export` then `parse_download`: one action's export as Arrow tables."""
    return (yield from parse_download(download_export(run, export, action_id)))


def _counted(records: Iterable[Record], seen: Counter[str]) -> Iterator[Record]:
    for record in records:
        seen["records"] += 1
        yield record


def read_exports(run: RunContext, export: RecipientExport, action_ids: Sequence[str],
                 workers: int) -> Iterator[tuple[str, pa.Table | None, str | None]]:
    """The exports of `action_ids`, up to `workers` downloading at once: `(action, table, None)`
    per table and `(action, None, outcome)` when an action is done, in `action_ids` order.

    Downloads never wait for the consumer (they spool), so a consumer paused by dlt blocks no
    request slot; at most `workers` finished downloads wait to be parsed.
    """
    downloads = ordered_map(lambda a: download_export(run, export, a), action_ids, workers, "np6-export")
    for download in downloads:
        tables = parse_download(download)
        while True:
            try:
                yield download.action_id, next(tables), None
            except StopIteration as done:
                yield download.action_id, None, done.value
                break


# Resource state of each recipient table.
EXPORTED = "exported"  # resource state: action id -> fingerprint of its events at the last export
EXPORTED_UP_TO = "events_loaded_up_to"  # earlier versions: the newest event load exported


def recipients(run: RunContext, export: RecipientExport) -> Iterator[pa.Table]:
    """All rows of one recipient table for the active (or given) actions, export first; nothing
    (and one warning) when the destination cannot be read back."""
    if warehouse.refused(run, export.table):
        return
    with read_back(run, export.table):
        yield from run.guard(export.table, _recipients(run, export), on_stop=lambda outcome, span: None)


def _recipients(run: RunContext, export: RecipientExport) -> Iterator[pa.Table]:
    plan = run.plan
    dataset = warehouse.dataset()
    if not {"hits", "activations"} <= set(warehouse.loaded_tables(dataset)):
        log.warning("%s: the hits and activations tables are not in the destination yet: load them "
                    "first (resources hits, activations); nothing exported", export.table)
        return
    until = (plan.range_end or plan.now) if plan.backfill else plan.now
    # A scheduled run re-exports only the actions whose events changed since its last export:
    # the same events (a lookback merges them again) give the same recipients (see `EXPORTED`).
    state = dlt.current.resource_state(export.table)
    state.pop(EXPORTED_UP_TO, None)  # what earlier versions kept instead
    since = until - plan.activity_horizon  # one read of the events for every recipient table
    activity = {} if plan.action_ids else run.once(f"action activity since {since}",
                                                   lambda: action_activity(dataset, since))
    exported = {} if plan.backfill else state.get(EXPORTED, {})
    actions = list(plan.action_ids or ()) or [a for a, seen in activity.items() if exported.get(a) != seen]
    tally: Counter[str] = Counter()
    rows: Counter[str] = Counter()
    derive = actions if export.path is None else []
    for action_id, table, outcome in read_exports(run, export, actions if export.path else [], plan.concurrency):
        if table is not None:
            rows[action_id] += table.num_rows
            yield table
            continue
        tally[outcome or ""] += 1
        if outcome == "none":
            derive.append(action_id)
        log.info("%s: action %s: %s [%d/%d]", export.table, action_id,
                 _OUTCOMES[outcome or ""].format(rows=rows[action_id]), sum(tally.values()), len(actions))
    for table in derived_tables(dataset, export, derive):
        tally["derived"] += table.num_rows
        yield table
    if not plan.backfill and not plan.action_ids:
        state[EXPORTED] = dict(activity)  # the actions inside the horizon only: bounded
    log.info("%s: %d action(s): %d rows exported for %d, %d rows derived from %s for %d",
             export.table, len(actions), sum(rows.values()), tally["export"], tally["derived"],
             export.event_table, len(derive))


_OUTCOMES = {"export": "{rows} rows exported", "none": "no export (empty answer, 403 or 404), derived from events"}


def export_resources(run: RunContext, tables: Iterable[str]) -> list[DltResource]:
    """One merge resource per selected recipient table (names not in `EXPORT_TABLES` are ignored).

    The actions are those given in the plan's `action_ids`, else those with events newer than
    the plan's `activity_horizon` before now (before the end of the range, for a backfill: a
    backfill of last spring exports the actions of last spring).
    """
    selected = set(tables)
    return [
        dlt.resource(recipients, name=name, primary_key=list(EXPORT_KEY), write_disposition="merge",
                     columns=EXPORT_COLUMNS)(run, EXPORTS[name])
        for name in EXPORT_TABLES if name in selected
    ]
