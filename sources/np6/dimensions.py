"""Dimension resources: small NP6 objects asked on every run and merged on `id` (loaded again
only when the answer changed: `bookkeeping.unchanged`).

`actions` reads the action list and each action's detail. The other dimensions (`fields`,
`value_lists`, `segments`, `imports`, `mobile_applications`, `marketing_pressure_topics`,
`marketing_pressure_rules`, `notifications`, `campaigns`) are one bare array each (np6-api.md
§3.12-§3.21), declared as data:
the endpoint in `settings.DIMENSION_ENDPOINTS`, the columns in `DIMENSION_COLUMNS` (column name ->
path in the NP6 object and kind). Flattening is pure (`dimension_row`): documented members become
snake_case columns, dates timestamps, nested lists JSON columns, and whatever is left over goes to
the JSON column `extra`. Mobile applications lose their provider secrets (`key`, `certificate`,
`password`...) before anything else happens to them: they never reach a row.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, NamedTuple

import dlt
import pyarrow as pa
from dlt.sources import DltResource

from .bookkeeping import for_table, unchanged
from .client import NP6Client
from .errors import NP6NotFound, expect_array
from .normalize import normalize_actions, parse_iso
from .run import RunContext
from .settings import ACTION_PATH, ACTIONS_PATH, DimensionEndpoint

log = logging.getLogger("np6.dimensions")


def warn_deprecated(run: RunContext, path: str, why: str) -> None:
    """Say once per run that a deprecated NP6 endpoint is in use, and why."""
    run.warn_once(f"deprecated {path}", "GET %s is deprecated in NP6 API 8.1.0; used because %s", path, why)


def list_actions(run: RunContext) -> list[dict[str, Any]]:
    """All actions of the account from the (deprecated, unreplaced) list operation."""
    data, _ = run.client.get_json(ACTIONS_PATH, context="actions")
    warn_deprecated(run, ACTIONS_PATH, "the reference names no other way to list actions")
    return expect_array(data, f"GET {ACTIONS_PATH}", "actions", path=ACTIONS_PATH)


def action_detail(client: NP6Client, summary: dict[str, Any]) -> dict[str, Any]:
    """The list item completed by `GET /actions/{id}` (description, subject, sender)."""
    path = ACTION_PATH.format(action_id=summary.get("id"))
    try:
        detail, _ = client.get_json(path, context="action detail")
    except NP6NotFound:
        return summary  # deleted between the list and the detail call: keep what the list gave
    return {**summary, **detail} if isinstance(detail, dict) else summary


ACTION_COLUMNS = {"extra": {"data_type": "json"}, "settings": {"data_type": "json"}}


@dlt.resource(name="actions", write_disposition="merge")  # table hints: `for_table`
def actions(run: RunContext) -> Iterator[Any]:
    """Email and SMS actions with their details; full refresh (NP6 gives no update date)."""
    yield from run.guard("actions", _actions(run))


def _actions(run: RunContext) -> Iterator[pa.Table]:
    summaries = [a for a in list_actions(run) if isinstance(a, dict)]
    with ThreadPoolExecutor(max_workers=run.plan.concurrency, thread_name_prefix="np6") as pool:
        full = list(pool.map(lambda s: action_detail(run.client, s), summaries))
    if unchanged(full):
        return
    normalized = normalize_actions(full)
    for table in normalized.tables.values():
        yield for_table(table, "actions", "id", ACTION_COLUMNS)
    if normalized.rejected:
        log.warning("%d action(s) without an id were not loaded", len(normalized.rejected))


# --- list dimensions: columns as data ----------------------------------------------------------

Row = dict[str, Any]


class Col(NamedTuple):
    """Where a column's value is in the NP6 object, and its kind: `text`, `bigint`, `bool`,
    `date` (a timestamp) or `json`."""

    path: tuple[str, ...]
    kind: str = "text"


def _cols(**spec: str) -> dict[str, Col]:
    """`name="a.b:date"` -> `{"name": Col(("a", "b"), "date")}`; the kind defaults to `text`."""
    out = {}
    for name, where in spec.items():
        path, _, kind = where.partition(":")
        out[name] = Col(tuple(path.split(".")), kind or "text")
    return out


_STAMP = {"stamp_creation": "stamp.creation:date", "stamp_modification": "stamp.modification:date"}
_AUTHORS = {"created_by": "createdBy", "modified_by": "modifiedBy"}

DIMENSION_COLUMNS: dict[str, dict[str, Col]] = {
    "fields": _cols(id="id:bigint", type="type", name="name", is_unicity="isUnicity:bool",
                    is_mandatory="isMandatory:bool", is_criterion="isCriterion:bool",
                    constraint_operator="constraint.operator:bigint", constraint_value="constraint.value",
                    value_list_id="valueListId:bigint"),
    "value_lists": _cols(id="id:bigint", name="name", ordered="ordered:bool", values="values:json"),
    "segments": _cols(id="id:bigint", type="type", name="name", description="description",
                      creation="creation:date", expiration="expiration:date", is_test="isTest:bool",
                      targets_count="targetsCount:bigint", parent_id="parentId:bigint",
                      search_id="searchId:bigint"),
    "imports": _cols(id="id:bigint", name="name", creation_date="creationDate:date",
                     update_date="updateDate:date", binding="binding:bigint", features="features:json",
                     source_type="source.type", source_id="source.id:bigint",
                     source_creation_date="source.creationDate:date",
                     source_update_date="source.updateDate:date", source_filename="source.filename",
                     source_data="source.data:json", source_folder="source.folder",
                     source_template_filename="source.templateFilename", scheduler_id="scheduler.id:bigint",
                     scheduler_type="scheduler.type", scheduler_name="scheduler.name",
                     scheduler_creation_date="scheduler.creationDate:date",
                     scheduler_description="scheduler.description", scheduler_enabled="scheduler.enabled:bool"),
    "mobile_applications": _cols(id="id", type="type", name="name", description="description",
                                 active="active:bool", **_STAMP, icon="icon", providers="providers:json",
                                 routes="routes:json", channels="channels:json"),
    "marketing_pressure_topics": _cols(id="id", label="label", description="description", **_STAMP, **_AUTHORS),
    "marketing_pressure_rules": _cols(id="id", label="label", predicate_type="predicate.type",
                                      predicate="predicate:json", **_STAMP, **_AUTHORS),
    "notifications": _cols(id="id:bigint", type="type", name="name", description="description", **_STAMP,
                           active="active:bool", urgent="settings.urgent:bool",
                           purpose_type="settings.purpose.type", expiration_type="settings.expiration.type",
                           marketing_pressure="settings.mp:json", application_id="application",
                           task_id="task.id", task_name="task.name", task_description="task.description",
                           scheduler_type="task.scheduler.type", versions="versions:json"),
    "campaigns": _cols(id="id", name="name", description="description", start_date="startDate:date",
                       end_date="endDate:date", creation_date="creationDate:date",
                       update_date="updateDate:date", items="items:json"),
}  # fmt: skip
_DATA_TYPES = {"text": {"data_type": "text"}, "bigint": {"data_type": "bigint"}, "bool": {"data_type": "bool"},
               "date": {"data_type": "timestamp", "timezone": True}, "json": {"data_type": "json"}}  # fmt: skip

# Provider members that are credentials (np6-api.md §3.17): never loaded, wherever they appear.
SECRET_KEYS = frozenset({"key", "certificate", "password", "secret", "token", "privatekey", "apikey"})
# What a provider keeps: enough to tell how an application sends, nothing to send with.
PROVIDER_KEYS = frozenset({"type", "sender", "bundle"})


def without_secrets(value: Any) -> Any:
    """A copy of `value` without any member named like a credential (`SECRET_KEYS`), at any depth."""
    if isinstance(value, Mapping):
        return {k: without_secrets(v) for k, v in value.items() if str(k).lower() not in SECRET_KEYS}
    if isinstance(value, list):
        return [without_secrets(v) for v in value]
    return value


def safe_application(app: Mapping[str, Any]) -> dict[str, Any]:
    """A mobile application with its providers cut down to `PROVIDER_KEYS` and no secret left."""
    clean = without_secrets(app)
    providers = clean.get("providers")
    if isinstance(providers, list):
        clean["providers"] = [
            {k: v for k, v in p.items() if k in PROVIDER_KEYS} if isinstance(p, Mapping) else None
            for p in providers
        ]
    return clean


_PREPARE: dict[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = {"mobile_applications": safe_application}


def _get(obj: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def _pop(obj: Any, path: tuple[str, ...]) -> None:
    """Remove the member at `path` (if there) and any object it leaves empty on the way."""
    if not isinstance(obj, dict) or path[0] not in obj:
        return
    if len(path) > 1:
        _pop(obj[path[0]], path[1:])
        if obj[path[0]] not in ({}, None):
            return
    del obj[path[0]]


def management_date(value: Any) -> tuple[datetime | None, bool]:
    """(parsed, understood): NP6's `0001-01-01T00:00:00Z` "no date" placeholder is None."""
    parsed = parse_iso(value)
    if parsed is None:
        return None, value is None
    return (None if parsed.year == 1 else parsed), True


def dimension_row(table: str, item: Mapping[str, Any]) -> Row:
    """One NP6 management object as a flat row of `table` (pure; see `DIMENSION_COLUMNS`).

    Members not mapped to a column, and dates that do not parse, are kept in `extra` (JSON).
    """
    prepare = _PREPARE.get(table)
    rest = prepare(item) if prepare else copy.deepcopy(dict(item))
    row: Row = {}
    unparsed: dict[str, Any] = {}
    for name, col in DIMENSION_COLUMNS[table].items():
        value = _get(rest, col.path)
        if col.kind == "date":
            value, understood = management_date(value)
            if not understood:
                unparsed[".".join(col.path)] = _get(rest, col.path)
        elif col.kind == "json":
            value = copy.deepcopy(value)  # members mapped to other columns are popped from `rest`
        row[name] = value
    for col in DIMENSION_COLUMNS[table].values():
        _pop(rest, col.path)
    extra = {**rest, **unparsed}
    row["extra"] = extra or None
    return row


def dimension_rows(table: str, items: list[Any]) -> tuple[list[Row], int]:
    """Rows of a list of objects, and how many items were not objects with an id (skipped)."""
    rows = [dimension_row(table, i) for i in items if isinstance(i, Mapping) and i.get("id") not in (None, "")]
    return rows, len(items) - len(rows)


def dimension_columns(table: str) -> dict[str, dict[str, Any]]:
    """dlt column hints of a dimension table: timestamps, JSON columns and the key."""
    hints = {name: dict(_DATA_TYPES[c.kind]) for name, c in DIMENSION_COLUMNS[table].items()}
    hints["id"]["nullable"] = False
    return {**hints, "extra": {"data_type": "json"}}


def list_dimension(run: RunContext, endpoint: DimensionEndpoint) -> list[Any]:
    """The whole list behind one dimension endpoint, asked once per run (contacts read the
    field catalogue and the value lists too)."""
    return run.once(f"GET {endpoint.path}", lambda: _ask_list(run, endpoint))


def _ask_list(run: RunContext, endpoint: DimensionEndpoint) -> list[Any]:
    data, fetched = run.client.get_json(endpoint.path, context=endpoint.table)
    if endpoint.deprecated:
        warn_deprecated(run, endpoint.path, endpoint.deprecated)
    return expect_array(data, f"GET {endpoint.path}", endpoint.table, path=endpoint.path, status=fetched.status)


def dimension(run: RunContext, endpoint: DimensionEndpoint) -> DltResource:
    """The resource of one list dimension: the whole list on every run, merged on `id` when it
    changed since the last load; a key that may not read it (403/404) leaves the table as it
    was (see `RunContext.guard`)."""

    def rows() -> Iterator[list[Row]]:
        rows, skipped = dimension_rows(endpoint.table, list_dimension(run, endpoint))
        if skipped:
            log.warning("%d %s item(s) without an id were not loaded", skipped, endpoint.table)
        if rows and not unchanged(rows):  # the rows, not the answer: no digest of a secret
            yield for_table(rows, endpoint.table, "id", dimension_columns(endpoint.table))

    def read() -> Iterator[Any]:
        yield from run.guard(endpoint.table, rows())

    # no key or columns here: a `_np6_windows` row may be a variant of this resource (`for_table`)
    return dlt.resource(read, name=endpoint.table, write_disposition="merge")
