"""Contacts: `targets` (with `target_bounces`) for the receivers of loaded events.

NP6 8.1.0 has no "list all contacts" operation (np6-api.md §3.11, §4.8), so `targets` reads the
contacts the warehouse already knows of, one `GET /targets/{id}` (experimental) each, a few in
flight, at most `max_targets` per run, in this order (`target_ids_sql`):

1. new: receiver ids of the loaded event tables that are not yet in `targets`;
2. stale: contacts with an event newer than their last read (`fetched_at`): a bounce, an
   unsubscribe or a click may have changed them in NP6 (NP6 has no "updated since" listing);
3. a rolling slice of `refresh_targets` contacts read longest ago, so a contact changed in NP6
   without any event (an import, a form) is not stale forever.

A contact that answers 404 gets a row with `deleted_at` (and its other columns null) instead of
keeping its last copy; it is read again only when a new event names it. A contact answers like
(seeds/002)::

    {"id": "000R4M0T", "hash": "9e1c...", "creationDate": "2026-01-02T10:00:00.5Z",
     "lastUpdateDate": "...", "fields": {"8103": "ann@example.com", "8130": 2, ...},
     "bounce": [{"field": 8103, "type": "Soft", "timestamp": "...", "reason": "mailbox full"}],
     "redList": {"mail": {"timestamp": "...", "reason": 4}, "sms": null}}

`fields` is keyed by field id; the columns are named after the field catalogue (`GET /fields`,
deprecated and unreplaced), once: the mapping {field id: column} lives in the source state under
`target_fields` and a column keeps its name when the field is renamed in NP6. List fields hold a
value-list index, loaded as its label (`GET /valueLists`). Each `bounce[]` element is a row of
`target_bounces`; `redList` becomes the `redlist_*` columns (the redlist timelines themselves are
the `redlists` resource, `redlists.py`).
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Any, NamedTuple
from urllib.parse import quote

import dlt
import pendulum
import orjson
from dlt.sources import DltResource

from . import warehouse
from .bookkeeping import for_table
from .client import NP6Client
from .dimensions import list_dimension, management_date
from .errors import NP6AuthError, NP6BadResponse, NP6ConfigError, NP6HTTPError, NP6NotFound
from .normalize import parse_iso
from .run import RunContext
from .settings import DIMENSION_ENDPOINTS, TARGETS_TABLE, DimensionEndpoint
from .warehouse import read_back, target_ids

log = logging.getLogger("np6.contacts")

Row = dict[str, Any]

BOUNCES_TABLE = "target_bounces"
TARGET_PATH = "/targets/{target_id}"
STATE_KEY = "target_fields"
BATCH_SIZE = 1000
FAILURES_IN_A_ROW = 20  # contact reads failing in a row (after retries) before the run gives up


def _ts(**more: Any) -> dict[str, Any]:
    return {"data_type": "timestamp", "timezone": True, **more}


TARGET_COLUMNS: dict[str, dict[str, Any]] = {
    "id": {"data_type": "text", "nullable": False},
    "hash": {"data_type": "text"},
    "creation_date": _ts(),
    "last_update_date": _ts(),
    "redlist_mail_at": _ts(),
    "redlist_mail_reason": {"data_type": "bigint"},
    "redlist_sms_at": _ts(),
    "redlist_sms_reason": {"data_type": "bigint"},
    "fetched_at": _ts(),
    "deleted_at": _ts(),
    "extra": {"data_type": "json"},
}
# Names a field column may never take: the fixed columns and dlt's own.
RESERVED_COLUMNS = frozenset(TARGET_COLUMNS) | {"_dlt_id", "_dlt_load_id"}
BOUNCE_KEY = ["target_id", "field_id", "type", "timestamp"]
BOUNCE_COLUMNS: dict[str, dict[str, Any]] = {
    "target_id": {"data_type": "text", "nullable": False},
    "field_id": {"data_type": "bigint", "nullable": False},
    "field": {"data_type": "text"},
    "type": {"data_type": "text", "nullable": False},
    "timestamp": _ts(nullable=False),
    "reason": {"data_type": "text"},
    "extra": {"data_type": "json"},
}
# Field catalogue type -> column kind (anything else is text).
_KINDS = {"integer": "bigint", "date": "date", "list": "list"}
_KIND_HINTS = {"bigint": {"data_type": "bigint"}, "date": {"data_type": "date"},
               "list": {"data_type": "text"}, "text": {"data_type": "text"}}  # fmt: skip
_TARGET_KEYS = frozenset({"id", "hash", "creationDate", "lastUpdateDate", "fields", "bounce", "redList"})
_BOUNCE_KEYS = frozenset({"field", "type", "timestamp", "reason"})
_REDLIST_ENTRY_KEYS = frozenset({"timestamp", "reason"})


# --- pure: field columns ---------------------------------------------------------------------


class FieldSpec(NamedTuple):
    """How one contact field becomes a column: its name, kind (`text`, `bigint`, `date`, `list`)
    and, for lists, the labels of the value-list indexes."""

    column: str
    kind: str = "text"
    labels: Mapping[int, str] = {}


def snake_ascii(name: Any) -> str:
    """`DATE_NAISSANCE` -> `date_naissance`, `Prénom usuel` -> `prenom_usuel` (accents dropped)."""
    text = unicodedata.normalize("NFKD", str(name or ""))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).encode("ascii", "ignore").decode()
    text = re.sub(r"([a-z])([A-Z])", r"\1_\2", text)  # camelCase -> camel_case
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def column_for(name: Any, taken: set[str]) -> str:
    """A column name for a field called `name`, not in `taken`.

    Prefixed `field_` when the plain name is empty, starts with a digit or is a fixed column;
    suffixed `_2`, `_3`... when another field already has it.
    """
    base = snake_ascii(name)
    if not base or base[0].isdigit() or base in RESERVED_COLUMNS:
        base = f"field_{base}".rstrip("_") if base else "field"
    column, n = base, 1
    while column in taken or column in RESERVED_COLUMNS:
        n += 1
        column = f"{base}_{n}"
    return column


def assign_columns(
    known: Mapping[str, str], catalogue: Iterable[Any], field_ids: Iterable[str] = ()
) -> dict[str, str]:
    """The {field id: column} mapping extended with every catalogue field and `field_ids` that has
    none yet; a field id that already has a column keeps it (renames do not rename columns).

    Catalogue fields are named after their `name` (in id order, so clashes resolve the same way on
    every run); ids the catalogue does not list are named `field_<id>`.
    """
    mapping = dict(known)
    taken = set(mapping.values())
    names = {str(f["id"]): f.get("name") for f in catalogue if isinstance(f, Mapping) and f.get("id") is not None}
    for field_id in sorted({*names, *map(str, field_ids)}, key=_id_order):
        if field_id not in mapping:
            name = names[field_id] if field_id in names else f"field_{field_id}"
            mapping[field_id] = column_for(name, taken)
            taken.add(mapping[field_id])
    return mapping


def _id_order(field_id: str) -> tuple[int, str]:
    return (int(field_id), "") if field_id.isdigit() else (1 << 62, field_id)


def field_specs(mapping: Mapping[str, str], catalogue: Iterable[Any], value_lists: Iterable[Any]) -> dict[str, FieldSpec]:
    """{field id: FieldSpec} for every mapped field: kind from the catalogue type, list labels from
    the value list the field names (`valueListId`)."""
    labels = {
        vl["id"]: {v["index"]: str(v.get("value")) for v in vl.get("values") or [] if isinstance(v, Mapping)}
        for vl in value_lists
        if isinstance(vl, Mapping) and vl.get("id") is not None
    }
    fields = {str(f["id"]): f for f in catalogue if isinstance(f, Mapping) and f.get("id") is not None}
    specs = {}
    for field_id, column in mapping.items():
        field = fields.get(field_id, {})
        kind = _KINDS.get(str(field.get("type")), "text")
        specs[field_id] = FieldSpec(column, kind, labels.get(field.get("valueListId"), {}) if kind == "list" else {})
    return specs


def target_columns(specs: Mapping[str, FieldSpec]) -> dict[str, dict[str, Any]]:
    """dlt column hints of `targets`: the fixed columns and one typed column per field."""
    return {**TARGET_COLUMNS, **{s.column: dict(_KIND_HINTS[s.kind]) for s in specs.values()}}


# --- pure: one contact in, rows out ----------------------------------------------------------


def field_value(spec: FieldSpec, value: Any) -> tuple[Any, Any]:
    """(column value, what goes to `extra` or None) of one field value, by the field's kind.

    bigint: an integer (or its digits); date: a date (`YYYY-MM-DD`, or an ISO instant at midnight
    UTC; NP6's year-1 placeholder is null); list: the label of the index, the raw value as text
    when the index is unknown; text: strings as sent, other scalars as text, objects as JSON text.
    Values that do not fit a bigint or a date are kept as sent in `extra`.
    """
    if value is None:
        return None, None
    if spec.kind == "bigint":
        if isinstance(value, int) and not isinstance(value, bool):
            return value, None
        text = str(value).strip()
        return (int(text), None) if re.fullmatch(r"[+-]?\d{1,18}", text) else (None, value)
    if spec.kind == "date":
        return _field_date(value)
    if spec.kind == "list":
        return spec.labels.get(_int_or_none(value), _as_text(value)), None  # unknown index: raw text
    return _as_text(value), None


def _field_date(value: Any) -> tuple[date | None, Any]:
    """(date, None), or (None, value) for a value a date column cannot hold."""
    parsed, understood = management_date(value)
    if not understood:
        return None, value
    if parsed is None:
        return None, None
    if (parsed.hour, parsed.minute, parsed.second, parsed.microsecond) != (0, 0, 0, 0):
        return None, value  # a time of day would be lost in a date column: keep it as sent
    return parsed.date(), None


def _int_or_none(value: Any) -> int | None:
    text = str(value).strip()
    return int(text) if re.fullmatch(r"\d{1,18}", text) else None


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return orjson.dumps(value).decode()
    return str(value).lower() if isinstance(value, bool) else str(value)


def field_ids_of(item: Any) -> set[str]:
    """The field ids a contact mentions, in `fields` and in `bounce[].field`."""
    if not isinstance(item, Mapping):
        return set()
    fields = item.get("fields")
    ids = {str(k) for k in fields} if isinstance(fields, Mapping) else set()
    bounces = item.get("bounce")
    for bounce in bounces if isinstance(bounces, list) else []:
        if isinstance(bounce, Mapping) and bounce.get("field") is not None:
            ids.add(str(bounce["field"]))
    return ids


def target_row(item: Mapping[str, Any], specs: Mapping[str, FieldSpec]) -> Row:
    """One contact as a `targets` row (pure).

    Every field in `specs` gets its column (null when the contact has no value). Members this
    function does not know, values that do not fit their column (under `fields.<id>`) and
    unknown redlist members (under `redList...`) are kept in `extra` (JSON).
    """
    extra: dict[str, Any] = {k: v for k, v in item.items() if k not in _TARGET_KEYS}
    row: Row = {"id": str(item["id"]), "hash": _text(item.get("hash"))}
    for column, key in (("creation_date", "creationDate"), ("last_update_date", "lastUpdateDate")):
        row[column], understood = management_date(item.get(key))
        if not understood:
            extra[key] = item[key]
    row.update(field_columns(item.get("fields"), specs, extra))
    row.update(redlist_columns(item.get("redList"), extra))
    bounces = item.get("bounce")
    unloaded = [b for b in _bounces(item) if bounce_row(row["id"], b, specs) is None]
    if unloaded or not isinstance(bounces, (list, type(None))):
        extra["bounce"] = unloaded or bounces  # what `target_bounces` cannot hold
    row["extra"] = extra or None
    return row


def field_columns(fields: Any, specs: Mapping[str, FieldSpec], extra: dict[str, Any]) -> Row:
    """One column per field of `specs` (null when absent) from a contact's `fields` object;
    values a column cannot hold go to `extra` under `fields.<id>`."""
    row: Row = {spec.column: None for spec in specs.values()}
    if fields is not None and not isinstance(fields, Mapping):
        extra["fields"] = fields
    for field_id, value in (fields.items() if isinstance(fields, Mapping) else ()):
        spec = specs.get(str(field_id), FieldSpec(f"field_{field_id}"))
        row[spec.column], kept = field_value(spec, value)
        if kept is not None:
            extra[f"fields.{field_id}"] = kept
    return row


def redlist_columns(red: Any, extra: dict[str, Any]) -> Row:
    """`redlist_{mail,sms}_{at,reason}` of a `redList` object; anything else goes to `extra`."""
    row: Row = {f"redlist_{c}_{k}": None for c in ("mail", "sms") for k in ("at", "reason")}
    if red is None:
        return row
    if not isinstance(red, Mapping):
        extra["redList"] = red
        return row
    for channel, entry in red.items():
        if channel not in ("mail", "sms") or (entry is not None and not isinstance(entry, Mapping)):
            extra[f"redList.{channel}"] = entry
        elif entry is not None:
            row.update(_redlist_entry(channel, entry, extra))
    return row


def _redlist_entry(channel: str, entry: Mapping[str, Any], extra: dict[str, Any]) -> Row:
    at, reason = parse_iso(entry.get("timestamp")), entry.get("reason")
    rest = {k: v for k, v in entry.items() if k not in _REDLIST_ENTRY_KEYS}
    if at is None and entry.get("timestamp") is not None:
        rest["timestamp"] = entry["timestamp"]
    if reason is not None and (not isinstance(reason, int) or isinstance(reason, bool)):
        rest["reason"], reason = reason, None
    if rest:
        extra[f"redList.{channel}"] = rest
    return {f"redlist_{channel}_at": at, f"redlist_{channel}_reason": reason}


def _bounces(item: Mapping[str, Any]) -> list[Any]:
    bounces = item.get("bounce")
    return bounces if isinstance(bounces, list) else []


def bounce_row(target_id: str, bounce: Any, specs: Mapping[str, FieldSpec]) -> Row | None:
    """One `bounce[]` element as a `target_bounces` row; None when a key part is missing (the
    element is then kept in the contact's `extra`)."""
    if not isinstance(bounce, Mapping):
        return None
    field_id = bounce.get("field")
    at = parse_iso(bounce.get("timestamp"))
    if isinstance(field_id, bool) or _int_or_none(field_id) is None or at is None or not bounce.get("type"):
        return None
    spec = specs.get(str(field_id))
    rest = {k: v for k, v in bounce.items() if k not in _BOUNCE_KEYS}
    return {"target_id": target_id, "field_id": int(field_id), "field": spec.column if spec else None,
            "type": str(bounce["type"]), "timestamp": at, "reason": _text(bounce.get("reason")),
            "extra": rest or None}  # fmt: skip


def bounce_rows(item: Mapping[str, Any], specs: Mapping[str, FieldSpec]) -> list[Row]:
    """The `target_bounces` rows of one contact."""
    rows = (bounce_row(str(item["id"]), b, specs) for b in _bounces(item))
    return [r for r in rows if r is not None]


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


# --- reads -----------------------------------------------------------------------------------


def _segment(value: str) -> str:
    return quote(str(value), safe="")


def fetch_target(client: NP6Client, target_id: str) -> dict[str, Any] | None:
    """`GET /targets/{id}`; None when NP6 answers 404 (the contact was deleted)."""
    path = TARGET_PATH.format(target_id=_segment(target_id))
    try:
        data, fetched = client.get_json(path, context=f"target {target_id}")
    except NP6NotFound:
        return None
    if not isinstance(data, dict) or data.get("id") in (None, ""):
        what = f"a JSON {type(data).__name__}" if not isinstance(data, dict) else "an object without id"
        raise NP6BadResponse(f"NP6 answered GET {path} (target {target_id}) with {what}, expected a target",
                             status=fetched.status, path=path)  # fmt: skip
    return data


class Skipped(NamedTuple):
    """A contact NP6 would not serve after every retry; fetched again by the next run."""

    error: NP6HTTPError


class _Breaker:
    """Stops a run of contact reads after `limit` failures in a row: one contact that fails is
    skipped (it stays "new" and the next run asks again), an API that fails for all is an error."""

    def __init__(self, limit: int) -> None:
        self.limit, self.in_a_row, self.tripped = limit, 0, None
        self._lock = threading.Lock()

    def call(self, client: NP6Client, target_id: str) -> dict[str, Any] | Skipped | None:
        if self.tripped is not None:
            raise self.tripped
        try:
            found = fetch_target(client, target_id)
        except (NP6AuthError, NP6ConfigError):
            raise
        except NP6HTTPError as exc:
            with self._lock:
                self.in_a_row += 1
                if self.in_a_row >= self.limit:
                    self.tripped = exc
                    raise
            return Skipped(exc)
        with self._lock:
            self.in_a_row = 0
        return found


def fetch_targets(
    client: NP6Client, target_ids: Sequence[str], concurrency: int, breaker: _Breaker | None = None
) -> list[dict[str, Any] | Skipped | None]:
    """The contacts of `target_ids` in order (None for deleted ones, `Skipped` for ones NP6 kept
    failing on), `concurrency` at a time."""
    breaker = breaker or _Breaker(FAILURES_IN_A_ROW)
    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="np6-targets") as pool:
        return list(pool.map(lambda t: breaker.call(client, t), target_ids))


def read_catalogue(run: RunContext) -> tuple[list[Any], list[Any]]:
    """The field catalogue and the value lists (`GET /fields`, `GET /valueLists`, both deprecated
    and unreplaced); [] for one this key may not read (columns are then named by field id)."""
    endpoints = {d.table: d for d in DIMENSION_ENDPOINTS}
    return _optional_list(run, endpoints["fields"]), _optional_list(run, endpoints["value_lists"])


def _optional_list(run: RunContext, endpoint: DimensionEndpoint) -> list[Any]:
    try:
        return list_dimension(run, endpoint)
    except (NP6NotFound, NP6AuthError) as exc:
        if isinstance(exc, NP6AuthError) and exc.status != 403:
            raise  # 401: the key is wrong, stop the load
        run.warn_once(f"catalogue {endpoint.path}", "targets: %s; field columns are named by field id", exc)
        return []


# --- the resource ----------------------------------------------------------------------------


def _take(ids: list[str], max_targets: int | None) -> list[str]:
    """At most `max_targets` ids (None: all), saying how many are left for the next run."""
    if max_targets is None or len(ids) <= max_targets:
        return ids
    log.info("targets: %d new contact(s), loading %d; the next run loads the rest", len(ids), max_targets)
    return ids[: max(0, max_targets)]


def _target_batches(run: RunContext, ids: list[str], mapping: dict[str, str]) -> Iterator[Any]:
    """Fetch, flatten and yield `ids` in batches; extends `mapping` with new field ids."""
    client, concurrency = run.client, run.plan.concurrency
    catalogue, value_lists = read_catalogue(run)
    mapping.update(assign_columns(mapping, catalogue))
    deleted, skipped, breaker = 0, [], _Breaker(FAILURES_IN_A_ROW)
    for start in range(0, len(ids), BATCH_SIZE):
        batch = ids[start : start + BATCH_SIZE]
        answers = fetch_targets(client, batch, concurrency, breaker)
        now = pendulum.now("UTC")
        items = [a for a in answers if isinstance(a, dict)]
        gone = [{"id": i, "fetched_at": now, "deleted_at": now} for i, a in zip(batch, answers) if a is None]
        deleted += len(gone)
        skipped += [a for a in answers if isinstance(a, Skipped)]
        mapping.update(assign_columns(mapping, (), {f for i in items for f in field_ids_of(i)}))
        specs = field_specs(mapping, catalogue, value_lists)
        if items or gone:
            rows = [{**target_row(i, specs), "fetched_at": now} for i in items] + gone
            yield for_table(rows, TARGETS_TABLE, "id", target_columns(specs))
        bounces = [b for i in items for b in bounce_rows(i, specs)]
        if bounces:
            yield for_table(bounces, BOUNCES_TABLE, BOUNCE_KEY, BOUNCE_COLUMNS)
        log.info("targets: %d/%d read", min(start + BATCH_SIZE, len(ids)), len(ids))
    if deleted:
        log.warning("targets: %d contact(s) answered 404 (deleted in NP6): marked with deleted_at", deleted)
    if skipped:
        log.warning("targets: %d contact(s) skipped after every retry, the next run asks again (first: %s)",
                    len(skipped), skipped[0].error)


def targets(run: RunContext) -> DltResource:
    """The contacts of the loaded events' receivers (resource `targets`, which also fills
    `target_bounces`), merged on `id`: new ones, stale ones and `refresh_targets` read longest ago.

    The ids come from the destination: this resource runs after the event tables of the same run
    are loaded (`settings.AFTER_EVENTS`).
    """

    def contacts() -> Iterator[Any]:
        ids: list[str] = []
        if warehouse.refused(run, TARGETS_TABLE):
            return
        with read_back(run, TARGETS_TABLE):
            ids = _take(target_ids(run.plan.refresh_targets), run.plan.max_targets)
        if not ids:
            log.info("targets: no contact to read")
            return
        mapping = dlt.current.source_state().setdefault(STATE_KEY, {})
        yield from _target_batches(run, ids, mapping)

    def read() -> Iterator[Any]:
        yield from run.guard(TARGETS_TABLE, contacts())

    return dlt.resource(read, name=TARGETS_TABLE, write_disposition="merge")  # tables: see `for_table`
