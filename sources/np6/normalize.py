"""Turn raw NP6 events and actions into flat, typed Arrow tables (pure functions, no I/O).

This is the connector's hot path, so the shape of the code follows from two rules:

- **One raw event in, one flat row out.** Each event family has a row function (`hit_row`,
  `activation_row`, `bounce_row`, `cancellation_row`, `execution_row`, `other_event_row`) that
  returns a tuple in the column order of `SCHEMAS[table]`. `normalize_events` validates each
  element, routes it on `type` and builds each table from its rows with explicit Arrow types:
  no per-row dicts, no pandas, epoch milliseconds converted by Arrow casts. Events of exactly
  the documented shape (nearly all of them) take a fast path that builds the same tuple with
  direct indexing; anything else takes the general path (see "Plain events" below).
- **Nothing is lost.** Every key a row function does not map, and every value whose shape it does
  not expect (an object where a string was promised, or the reverse), goes into the row's `extra`
  column: a JSON object keyed by the dotted path from the event root, e.g.
  `{"origin": "api", "source.detail.client.ua.os.build": "x"}`. A known key whose value is null is
  mapped (to a null), not extra. Unknown discriminator *values* (hit type `share`, client type
  `proxy`) stay in their column. Checking for unmapped keys costs one `known.issuperset(obj)` per
  object; the unknown keys are only looked for when that fails.

Push notification events (np6-api.md §3.1, §3.5) share the envelope: `source.type`
`notification`, an integer `activation.id` / `execution.id` (the notification id, stored as text
in `action_id`, e.g. "156"), a receiver wrapped in a `contact` (see `_receiver`), no address.
Their `version` (the notification version uuid) has no column: it is kept in `extra` under
`source.detail.activation.version` (or `.execution.version`), where it costs the email path nothing.

Elements that cannot be keyed (not an object, no usable `id` or `timestamp`) are returned as
`Rejected` with a one-line reason and their JSON text; a batch never crashes on one bad element.
An event `id` repeated within a batch keeps its first row only.

Payload shapes: `np6-api.md` §3.1 (event envelope and examples), `seeds/004` (complete hit), §3.9
(actions); reference pages under https://documentation.np6.com/api/actionevent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from functools import partial
from types import MappingProxyType
from typing import Any, NamedTuple, cast

import orjson
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "ACTION_COLUMNS",
    "ENVELOPE_COLUMNS",
    "EVENT_TABLES",
    "OTHER_TABLE",
    "SCHEMAS",
    "TABLE_FOR_TYPE",
    "Normalized",
    "Rejected",
    "action_row",
    "activation_row",
    "bounce_row",
    "cancellation_row",
    "execution_row",
    "hit_row",
    "normalize_actions",
    "normalize_events",
    "other_event_row",
    "parse_iso",
]

Obj = Mapping[str, Any]
Row = tuple[Any, ...]
Extra = dict[str, Any]


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
# Tables and columns (the warehouse contract, DATA-MODEL.md)
# --------------------------------------------------------------------------------------------

TABLE_FOR_TYPE: dict[str, str] = {
    "hit": "hits",
    "activation": "activations",
    "bounce": "bounces",
    "cancellation": "cancellations",
    "execution": "executions",
}
OTHER_TABLE = "other_events"
EVENT_TABLES: tuple[str, ...] = (*TABLE_FOR_TYPE.values(), OTHER_TABLE)

ENVELOPE_COLUMNS: tuple[str, ...] = (
    "id", "timestamp", "agency", "customer", "identity_type", "channel", "action_id",
    "activation_kind", "receiver_type", "receiver_id", "receiver_unicity", "receiver_hash",
    "receiver_value", "stamp_id", "stamp_thread", "stamp_time", "recipient",
)  # fmt: skip
HIT_COLUMNS: tuple[str, ...] = (
    "hit_type", "link_label", "link_source", "link_value", "link_url", "client_type", "ip_type",
    "ip", "ua_type", "user_agent", "ua_client_type", "ua_client_name", "ua_client_vendor",
    "os_name", "os_family", "os_vendor", "device_type", "classification",
)  # fmt: skip
BOUNCE_COLUMNS: tuple[str, ...] = (
    "bounce_status_type", "bounce_code", "bounce_diagnostic", "bounce_mta", "bounce_verdict",
    "bounce_subject_type", "bounce_subject_detail",
)  # fmt: skip
CANCELLATION_COLUMNS: tuple[str, ...] = (
    "cancellation_type", "cancellation_reason_type", "cancellation_message", "execution_data",
)  # fmt: skip
ACTION_COLUMNS: tuple[str, ...] = (
    "id", "type", "name", "description", "creation_date", "folder", "category", "state",
    "scheduler_type", "scheduler_start", "scheduler_end", "last_sent_at", "subject",
    "sender_prefix", "sender_domain", "sender_label", "reply_to", "culture", "edition_mode",
    "purpose_type", "settings", "extra",
)  # fmt: skip

_TS = pa.timestamp("us", tz="UTC")
_TS_MS = pa.timestamp("ms", tz="UTC")
_INT64 = pa.int64()
# Every column not listed here is a string. `folder` and `category` are int32 ids in the API.
_COLUMN_TYPES: dict[str, pa.DataType] = {
    "timestamp": _TS,
    "stamp_time": _TS,
    "creation_date": _TS,
    "scheduler_start": _TS,
    "scheduler_end": _TS,
    "last_sent_at": _TS,
    "folder": _INT64,
    "category": _INT64,
    "state": _INT64,
    "edition_mode": _INT64,
}
# Event timestamps arrive as epoch milliseconds; action dates arrive as ISO strings.
_EPOCH_MS_COLUMNS = frozenset({"timestamp", "stamp_time"})
_REQUIRED_COLUMNS = frozenset({"id", "timestamp"})


def _schema(*names: str) -> pa.Schema:
    """Build a schema from column names: strings unless `_COLUMN_TYPES` says otherwise."""
    return pa.schema(
        pa.field(name, _COLUMN_TYPES.get(name, pa.string()), nullable=name not in _REQUIRED_COLUMNS)
        for name in names
    )


SCHEMAS: dict[str, pa.Schema] = {
    "hits": _schema(*ENVELOPE_COLUMNS, *HIT_COLUMNS, "extra"),
    "activations": _schema(*ENVELOPE_COLUMNS, "extra"),
    "bounces": _schema(*ENVELOPE_COLUMNS, *BOUNCE_COLUMNS, "extra"),
    "cancellations": _schema(*ENVELOPE_COLUMNS, *CANCELLATION_COLUMNS, "extra"),
    "executions": _schema(*ENVELOPE_COLUMNS, "execution_data", "extra"),
    OTHER_TABLE: _schema("event_type", *ENVELOPE_COLUMNS, "extra"),
    "actions": _schema(*ACTION_COLUMNS),
}

# --------------------------------------------------------------------------------------------
# Known keys, per object, and the dotted paths used in `extra`
# --------------------------------------------------------------------------------------------

_ROOT_KEYS = frozenset({"type", "id", "timestamp", "identity", "source"})
_IDENTITY_KEYS = frozenset({"type", "agency", "customer"})
_SOURCE_KEYS = frozenset({"type", "detail"})
_STAMP_KEYS = frozenset({"time", "id", "thread"})
# One key set for every receiver variant: footprint {id, unicity, hash}; id/unicity/hash/other
# {value}. Reading all five whatever the type keeps a new variant from spilling into `extra`.
_RECEIVER_KEYS = frozenset({"type", "id", "unicity", "hash", "value"})
_TYPE_ONLY = frozenset({"type"})

_HIT_DETAIL_KEYS = frozenset({"activation", "link", "client"})
_LINK_KEYS = frozenset({"type", "label", "source", "value", "url"})
_CLIENT_KEYS = frozenset({"type", "ip", "ua", "classification"})
_IP_KEYS = frozenset({"type", "value"})
_UA_KEYS = frozenset({"type", "ua", "client", "os", "device"})
_UA_CLIENT_KEYS = frozenset({"type", "name", "vendor"})
_OS_KEYS = frozenset({"name", "family", "vendor"})

_ACTIVATION_DETAIL_KEYS = frozenset({"activation"})
_BOUNCE_DETAIL_KEYS = frozenset({"activation", "bounce"})
_BOUNCE_KEYS = frozenset({"status", "analysis"})
_STATUS_KEYS = frozenset({"type", "code", "diagnostic", "mta"})
_CODE_KEYS = frozenset({"enhanced"})
_ANALYSIS_KEYS = frozenset({"verdict", "subject"})
_SUBJECT_KEYS = frozenset({"type", "detail"})

_CANCELLATION_DETAIL_KEYS = frozenset({"execution", "cancellation"})
_CANCELLATION_KEYS = frozenset({"type", "value"})
_REASON_KEYS = frozenset({"type", "message"})
_EXECUTION_DETAIL_KEYS = frozenset({"execution"})

# Read-only stand-in for an absent (or malformed) object, so lookups need no None checks.
_EMPTY: Obj = MappingProxyType({})

# Dates that Python (and therefore every consumer of the table) can represent: years 1-9999.
_MIN_MS = int(datetime(1, 1, 1, tzinfo=UTC).timestamp() * 1000)
_MAX_MS = int(datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC).timestamp() * 1000)
_INT64_RANGE = range(-(2**63), 2**63)


class _Carrier(NamedTuple):
    """Where an event family keeps its action, receiver and stamp (with their dotted paths).

    Activation-based details (activation, hit, bounce, …) hold `receiver` (an object) and
    `recipient` (the address, a string); execution-based details (execution, cancellation) hold
    the footprint object under `recipient` and no address (np6-api.md §3.1, cancellation note).
    """

    name: str
    keys: frozenset[str]
    receiver_key: str
    address_key: str | None
    path: str
    receiver_path: str
    stamp_path: str
    time_path: str


def _carrier(
    name: str, keys: frozenset[str], receiver_key: str, address_key: str | None
) -> _Carrier:
    """Describe a carrier object, precomputing the paths its odd values are kept under."""
    path = f"source.detail.{name}"
    return _Carrier(
        name, keys, receiver_key, address_key, path, f"{path}.{receiver_key}", f"{path}.stamp",
        f"{path}.stamp.time",
    )  # fmt: skip


_ACTIVATION = _carrier(
    "activation",
    keys=frozenset({"id", "kind", "receiver", "stamp", "recipient"}),
    receiver_key="receiver",
    address_key="recipient",
)
# `data` is not listed: the families with an `execution_data` column add it themselves.
_EXECUTION = _carrier(
    "execution",
    keys=frozenset({"id", "kind", "recipient", "stamp"}),
    receiver_key="recipient",
    address_key=None,
)
_EXECUTION_WITH_DATA = _EXECUTION._replace(keys=_EXECUTION.keys | {"data"})


# --------------------------------------------------------------------------------------------
# Small shared helpers
# --------------------------------------------------------------------------------------------


def _spill(obj: Obj, known: frozenset[str], prefix: str, extra: Extra) -> None:
    """Copy every key of `obj` that is not in `known` into `extra` under `prefix + key`."""
    for key, value in obj.items():
        if key not in known:
            extra[prefix + key] = value


def _odd(value: Any, known: frozenset[str], path: str, extra: Extra) -> Obj:
    """Slow path of reading a nested object: it is absent, not an object, or has unknown keys.

    Args:
        value: what the parent holds under the object's key.
        known: the keys of the object that the caller maps.
        path: the dotted path of the object from the event root, e.g. "source.detail.link".
        extra: the row's unmapped values.

    Returns:
        The object (its unknown keys copied to `extra`), or an empty mapping when it is absent,
        null or not an object (a non-null non-object is kept in `extra` under `path`).
    """
    if isinstance(value, dict):
        _spill(value, known, path + ".", extra)
        return value
    if value is not None:
        extra[path] = value
    return _EMPTY


def _obj(parent: Obj, key: str, known: frozenset[str], path: str, extra: Extra) -> Obj:
    """Read the nested object `parent[key]` (at dotted `path`), keeping what is unmapped in extra.

    The event hot path (envelope, hits) inlines these two lines: there the call costs more
    than the check. `issuperset` is the cheapest subset test CPython offers for a dict's keys.
    """
    value = parent.get(key)
    if type(value) is dict and known.issuperset(value):
        return value
    return _odd(value, known, path, extra)


def _json(value: Any) -> str | None:
    """JSON text of a value; None stays None."""
    return None if value is None else orjson.dumps(value).decode()


def _dump_extra(extra: Extra) -> str | None:
    """The `extra` column value: JSON text of the unmapped values, None when there are none."""
    return orjson.dumps(extra).decode() if extra else None


# --------------------------------------------------------------------------------------------
# Event rows: one raw event in, one flat tuple out
# --------------------------------------------------------------------------------------------


def _receiver(receiver: Obj) -> Row:
    """Map a receiver (or execution recipient) to (type, id, unicity, hash, value).

    `footprint` carries id/unicity/hash; `id`, `unicity` and `hash` carry a string `value` that
    also fills the matching column. Notification events wrap one of those in a `contact`
    (np6-api.md §3.1, optout example): `{"type": "contact", "value": {"type": "footprint", "id",
    "unicity", "hash"}}`; its columns are filled from the inner receiver, `receiver_type` stays
    `contact` and `receiver_value` is null. Any other value (an unknown type, an inner receiver
    with unknown keys) is kept whole as JSON text in `receiver_value`; a string is never quoted.
    """
    kind = receiver.get("type")
    ident, unicity, hashed = receiver.get("id"), receiver.get("unicity"), receiver.get("hash")
    value = receiver.get("value")
    if value is not None:
        if kind == "id" and ident is None:
            ident = value
        elif kind == "unicity" and unicity is None:
            unicity = value
        elif kind == "hash" and hashed is None:
            hashed = value
        elif kind == "contact" and _is_plain_receiver(value) and ident is unicity is hashed is None:
            _, ident, unicity, hashed, value = _receiver(value)
        elif not isinstance(value, str):
            value = _json(value)
    return kind, ident, unicity, hashed, value


_INNER_RECEIVER_TYPES = frozenset({"footprint", "id", "unicity", "hash"})


def _is_plain_receiver(value: Any) -> bool:
    """Whether a `contact`'s value is a receiver the columns hold entirely (nothing to keep)."""
    if type(value) is not dict or not _RECEIVER_KEYS.issuperset(value):
        return False
    kind = value.get("type")
    if kind == "footprint":
        return value.get("value") is None
    return kind in _INNER_RECEIVER_TYPES and type(value.get("value")) is str and len(value) == 2


def _carrier_columns(action: Obj, carrier: _Carrier, extra: Extra) -> Row:
    """The envelope columns from `action_id` to `recipient`, read from the carrier object."""
    receiver = action.get(carrier.receiver_key)
    if type(receiver) is not dict or not _RECEIVER_KEYS.issuperset(receiver):
        receiver = _odd(receiver, _RECEIVER_KEYS, carrier.receiver_path, extra)
    stamp = action.get("stamp")
    if type(stamp) is not dict or not _STAMP_KEYS.issuperset(stamp):
        stamp = _odd(stamp, _STAMP_KEYS, carrier.stamp_path, extra)
    stamp_time = stamp.get("time")
    if type(stamp_time) is not int or not _MIN_MS <= stamp_time <= _MAX_MS:
        if stamp_time is not None:  # not epoch ms (or out of range): keep it, column stays null
            extra[carrier.time_path] = stamp_time
        stamp_time = None
    action_id = action.get("id")
    if type(action_id) is int:  # notifications number their activations (np6-api.md §3.1)
        action_id = str(action_id)
    address = action.get(carrier.address_key) if carrier.address_key else None
    # Rows are assembled with `+` on tuples throughout: several times cheaper than `(*a, *b)`.
    return (
        (action_id, action.get("kind"))
        + _receiver(receiver)
        + (stamp.get("id"), stamp.get("thread"), stamp_time, address)
    )


def _envelope(
    event: Obj, carrier: _Carrier, detail_keys: frozenset[str], extra: Extra
) -> tuple[Row, Obj, Obj]:
    """Map the columns every event table shares (the `_obj` reads are inlined: hot path).

    Args:
        event: the raw event (validated by `normalize_events`: string `id`, int `timestamp`).
        carrier: where this family keeps action, receiver and stamp.
        detail_keys: the keys of `source.detail` that this family maps.
        extra: the row's unmapped values.

    Returns:
        The envelope values in `ENVELOPE_COLUMNS` order, `source.detail` and the carrier object.
    """
    if not _ROOT_KEYS.issuperset(event):
        _spill(event, _ROOT_KEYS, "", extra)
    identity = event.get("identity")
    if type(identity) is not dict or not _IDENTITY_KEYS.issuperset(identity):
        identity = _odd(identity, _IDENTITY_KEYS, "identity", extra)
    source = event.get("source")
    if type(source) is not dict or not _SOURCE_KEYS.issuperset(source):
        source = _odd(source, _SOURCE_KEYS, "source", extra)
    detail = source.get("detail")
    if type(detail) is not dict or not detail_keys.issuperset(detail):
        detail = _odd(detail, detail_keys, "source.detail", extra)
    action = detail.get(carrier.name)
    if type(action) is not dict or not carrier.keys.issuperset(action):
        action = _odd(action, carrier.keys, carrier.path, extra)
    envelope = (
        event.get("id"), event.get("timestamp"), identity.get("agency"),
        identity.get("customer"), identity.get("type"), source.get("type"),
    ) + _carrier_columns(action, carrier, extra)  # fmt: skip
    return envelope, detail, action


def _classification(client: Obj, requested: str | None, extra: Extra) -> Any:
    """The robot classification of a hit: from the payload, else from the request filter.

    Where NP6 puts the classification in a hit is undocumented (np6-api.md §3.1 and §4.5 only
    describe the `classification` query filter). We read `source.detail.client.classification`,
    as a string or an object with a `type`, and otherwise fall back to the filter the batch was
    requested with (which may list several values, e.g. "genericrobot,mpp,gsr").
    """
    found = client.get("classification")
    if isinstance(found, dict):
        found = _odd(found, _TYPE_ONLY, "source.detail.client.classification", extra).get("type")
    return requested if found is None else found


def _client_columns(client: Obj, requested: str | None, extra: Extra) -> Row:
    """The hit columns from `client_type` to `classification` (reads inlined: hot path)."""
    ip = client.get("ip")
    if type(ip) is not dict or not _IP_KEYS.issuperset(ip):
        ip = _odd(ip, _IP_KEYS, "source.detail.client.ip", extra)
    ua = client.get("ua")
    if type(ua) is not dict or not _UA_KEYS.issuperset(ua):
        ua = _odd(ua, _UA_KEYS, "source.detail.client.ua", extra)
    agent = ua.get("client")
    if type(agent) is not dict or not _UA_CLIENT_KEYS.issuperset(agent):
        agent = _odd(agent, _UA_CLIENT_KEYS, "source.detail.client.ua.client", extra)
    os = ua.get("os")
    if type(os) is not dict or not _OS_KEYS.issuperset(os):
        os = _odd(os, _OS_KEYS, "source.detail.client.ua.os", extra)
    device = ua.get("device")
    if type(device) is not dict or not _TYPE_ONLY.issuperset(device):
        device = _odd(device, _TYPE_ONLY, "source.detail.client.ua.device", extra)
    return (
        client.get("type"), ip.get("type"), ip.get("value"), ua.get("type"), ua.get("ua"),
        agent.get("type"), agent.get("name"), agent.get("vendor"), os.get("name"),
        os.get("family"), os.get("vendor"), device.get("type"),
        _classification(client, requested, extra),
    )  # fmt: skip


def _general_hit_row(event: Obj, classification: str | None = None) -> Row:
    """Flatten a `hit` event (open, click/redirection, mirror, form, unsubscribe, …).

    Args:
        event: the raw event, already validated by `normalize_events` (or known good).
        classification: the `classification` filter the hits were requested with, if any.

    Returns:
        The row in `SCHEMAS["hits"]` column order.
    """
    extra: Extra = {}
    envelope, detail, _ = _envelope(event, _ACTIVATION, _HIT_DETAIL_KEYS, extra)
    link = detail.get("link")
    if type(link) is not dict or not _LINK_KEYS.issuperset(link):
        link = _odd(link, _LINK_KEYS, "source.detail.link", extra)
    client = detail.get("client")
    if type(client) is not dict or not _CLIENT_KEYS.issuperset(client):
        client = _odd(client, _CLIENT_KEYS, "source.detail.client", extra)
    client_columns = _client_columns(client, classification, extra)
    return (
        envelope
        + (link.get("type"), link.get("label"), link.get("source"), link.get("value"),
           link.get("url"))
        + client_columns
        + (_dump_extra(extra),)
    )  # fmt: skip


def _general_activation_row(event: Obj) -> Row:
    """Flatten an `activation` event (a message handed over for sending): envelope + extra."""
    extra: Extra = {}
    envelope, _, _ = _envelope(event, _ACTIVATION, _ACTIVATION_DETAIL_KEYS, extra)
    return envelope + (_dump_extra(extra),)


def _general_bounce_row(event: Obj) -> Row:
    """Flatten a `bounce` event: envelope, SMTP status and NP6's hard/soft analysis."""
    extra: Extra = {}
    envelope, detail, _ = _envelope(event, _ACTIVATION, _BOUNCE_DETAIL_KEYS, extra)
    path = "source.detail.bounce"
    bounce = _obj(detail, "bounce", _BOUNCE_KEYS, path, extra)
    status = _obj(bounce, "status", _STATUS_KEYS, path + ".status", extra)
    code = _obj(status, "code", _CODE_KEYS, path + ".status.code", extra)
    analysis = _obj(bounce, "analysis", _ANALYSIS_KEYS, path + ".analysis", extra)
    subject = _obj(analysis, "subject", _SUBJECT_KEYS, path + ".analysis.subject", extra)
    # `subject.detail` is optional (absent from the soft-bounce example).
    subject_detail = _obj(subject, "detail", _TYPE_ONLY, path + ".analysis.subject.detail", extra)
    return envelope + (
        status.get("type"), code.get("enhanced"), status.get("diagnostic"), status.get("mta"),
        analysis.get("verdict"), subject.get("type"), subject_detail.get("type"),
        _dump_extra(extra),
    )  # fmt: skip


def _general_cancellation_row(event: Obj) -> Row:
    """Flatten a `cancellation` event: a send that NP6 stopped, with the policy and reason."""
    extra: Extra = {}
    envelope, detail, execution = _envelope(
        event, _EXECUTION_WITH_DATA, _CANCELLATION_DETAIL_KEYS, extra
    )
    path = "source.detail.cancellation"
    cancellation = _obj(detail, "cancellation", _CANCELLATION_KEYS, path, extra)
    reason = _obj(cancellation, "value", _REASON_KEYS, path + ".value", extra)
    return envelope + (
        cancellation.get("type"), reason.get("type"), reason.get("message"),
        _json(execution.get("data")), _dump_extra(extra),
    )  # fmt: skip


def _general_execution_row(event: Obj) -> Row:
    """Flatten an `execution` event (a send request) with its personalisation `data` as JSON."""
    extra: Extra = {}
    envelope, _, execution = _envelope(event, _EXECUTION_WITH_DATA, _EXECUTION_DETAIL_KEYS, extra)
    return envelope + (_json(execution.get("data")), _dump_extra(extra))


def other_event_row(event: Obj) -> Row:
    """Flatten an event of any other type (complaint, reply, optout, impression, a new one…).

    The envelope is filled from `source.detail.activation`, or from `source.detail.execution`
    when there is no activation; everything else in the detail goes to `extra`.
    """
    extra: Extra = {}
    source = event.get("source")
    detail = source.get("detail") if isinstance(source, dict) else None
    if isinstance(detail, dict) and "activation" not in detail and "execution" in detail:
        envelope, _, _ = _envelope(event, _EXECUTION, _EXECUTION_DETAIL_KEYS, extra)
    else:
        envelope, _, _ = _envelope(event, _ACTIVATION, _ACTIVATION_DETAIL_KEYS, extra)
    return (event.get("type"),) + envelope + (_dump_extra(extra),)


# --------------------------------------------------------------------------------------------
# Plain events: the fast path
# --------------------------------------------------------------------------------------------
#
# Nearly every event NP6 sends has exactly the documented shape: every object present, no
# unknown key, epoch-ms stamps. For those, the `_plain_*` functions build the same row as the
# row functions above in a fraction of the time: direct indexing (`d["x"]`) instead of `.get`,
# no `extra` dict, few tuples and few calls per row.
#
# They never decide anything on their own. When an event is not plain they give up, by returning
# None or by raising (usually the KeyError/TypeError of indexing a missing key or a non-object;
# any exception counts), and the general row function runs instead: it alone handles `extra`,
# odd values and rejects, so a surprise on the fast path can never cost a batch. An object
# of fixed shape is checked with `len(obj) == n` once its n keys were all indexed (n distinct
# keys found and no more: nothing unknown); an object with optional keys is checked with
# `issuperset`, as on the general path.

# Any failure of a fast row function only means "not plain" (costs nothing when none is raised).
_NOT_PLAIN = Exception


def _plain_envelope(event: Obj, action: Obj, receiver: Obj, address: Any) -> Row | None:
    """The envelope columns of a plain event whose carrier object is `action`, or None.

    The caller has indexed `action`'s family-specific keys (`receiver` and `recipient`, or
    `recipient` and `data`), so `len(action) == 5` proves it holds nothing unknown. The event's
    `id` and `timestamp` are checked as in `_event_problem` (None when they need a reject).
    """
    event_id, timestamp = event["id"], event["timestamp"]
    identity, source, stamp = event["identity"], event["source"], action["stamp"]
    stamp_time = stamp["time"]
    if not (
        type(event) is dict  # as `_event_problem` (a JSON object; nested ones are not checked)
        and type(event_id) is str and event_id and type(timestamp) is int
        and _MIN_MS <= timestamp <= _MAX_MS and type(stamp_time) is int
        and _MIN_MS <= stamp_time <= _MAX_MS
        and len(event) == 5 and len(identity) == 3 and len(source) == 2 and len(action) == 5
        and len(stamp) == 3
    ):  # fmt: skip
        return None
    action_id = action["id"]
    if type(action_id) is int:  # as in `_carrier_columns`
        action_id = str(action_id)
    if receiver["type"] == "footprint" and len(receiver) == 4:  # the usual receiver, inlined
        ident, unicity, hashed, value = receiver["id"], receiver["unicity"], receiver["hash"], None
    elif type(receiver) is dict and _RECEIVER_KEYS.issuperset(receiver):
        _, ident, unicity, hashed, value = _receiver(receiver)
    else:
        return None
    return (
        event_id, timestamp, identity["agency"], identity["customer"], identity["type"],
        source["type"], action_id, action["kind"], receiver["type"], ident, unicity, hashed,
        value, stamp["id"], stamp["thread"], stamp_time, address,
    )  # fmt: skip


def _plain_activation(event: Obj) -> Row | None:
    """`activation_row` of a plain activation, or None."""
    detail = event["source"]["detail"]
    action = detail["activation"]
    envelope = _plain_envelope(event, action, action["receiver"], action["recipient"])
    if envelope is None or len(detail) != 1:
        return None
    return envelope + (None,)


# A hit without `client` (NP6 knows nothing of the reader): 12 null client columns.
_NO_CLIENT = (None,) * 12


def _plain_hit(event: Obj, classification: str | None = None) -> Row | None:
    """`hit_row` of a plain hit, or None. `client`, link and user-agent parts are optional."""
    detail = event["source"]["detail"]
    action, link, client = detail["activation"], detail["link"], detail.get("client")
    envelope = _plain_envelope(event, action, action["receiver"], action["recipient"])
    if (
        envelope is None or not _HIT_DETAIL_KEYS.issuperset(detail)
        or type(link) is not dict or not _LINK_KEYS.issuperset(link)
    ):  # fmt: skip
        return None
    if client is None:
        return envelope + (
            link.get("type"), link.get("label"), link.get("source"), link.get("value"),
            link.get("url"), *_NO_CLIENT, classification, None,
        )  # fmt: skip
    if type(client) is not dict or not _CLIENT_KEYS.issuperset(client):
        return None
    ip, ua, found = client["ip"], client["ua"], client.get("classification")
    if type(found) is dict or len(ip) != 2:  # a classification object: see `_classification`
        return None
    if found is None:
        found = classification
    if len(ua) == 2:  # a raw user agent, {type, ua}: no parsed client, os or device
        return envelope + (
            link.get("type"), link.get("label"), link.get("source"), link.get("value"),
            link.get("url"), client["type"], ip["type"], ip["value"], ua["type"], ua["ua"],
            None, None, None, None, None, None, None, found, None,
        )  # fmt: skip
    agent, os, device = ua["client"], ua["os"], ua["device"]
    if len(ua) != 5 or len(agent) != 3 or len(os) != 3 or len(device) != 1:
        return None
    return envelope + (
        link.get("type"), link.get("label"), link.get("source"), link.get("value"),
        link.get("url"), client["type"], ip["type"], ip["value"], ua["type"], ua["ua"],
        agent["type"], agent["name"], agent["vendor"], os["name"], os["family"], os["vendor"],
        device["type"], found, None,
    )  # fmt: skip


def _plain_bounce(event: Obj) -> Row | None:
    """`bounce_row` of a plain bounce, or None. `analysis.subject.detail` is optional."""
    detail = event["source"]["detail"]
    action, bounce = detail["activation"], detail["bounce"]
    envelope = _plain_envelope(event, action, action["receiver"], action["recipient"])
    status, analysis = bounce["status"], bounce["analysis"]
    code, subject = status["code"], analysis["subject"]
    if (
        envelope is None or len(detail) != 2 or len(bounce) != 2 or len(status) != 4
        or len(code) != 1 or len(analysis) != 2
    ):  # fmt: skip
        return None
    if len(subject) == 1:
        subject_detail = None
    else:
        found = subject["detail"]
        if len(subject) != 2 or len(found) != 1:
            return None
        subject_detail = found["type"]
    return envelope + (
        status["type"], code["enhanced"], status["diagnostic"], status["mta"],
        analysis["verdict"], subject["type"], subject_detail, None,
    )  # fmt: skip


def _plain_cancellation(event: Obj) -> Row | None:
    """`cancellation_row` of a plain cancellation, or None."""
    detail = event["source"]["detail"]
    action, cancellation = detail["execution"], detail["cancellation"]
    data, reason = action["data"], cancellation["value"]
    envelope = _plain_envelope(event, action, action["recipient"], None)
    if envelope is None or len(detail) != 2 or len(cancellation) != 2 or len(reason) != 2:
        return None
    return envelope + (
        cancellation["type"], reason["type"], reason["message"], _json(data), None
    )  # fmt: skip


def _plain_execution(event: Obj) -> Row | None:
    """`execution_row` of a plain execution, or None."""
    detail = event["source"]["detail"]
    action = detail["execution"]
    data = action["data"]
    envelope = _plain_envelope(event, action, action["recipient"], None)
    if envelope is None or len(detail) != 1:
        return None
    return envelope + (_json(data), None)


def _plain_or_none(plain_row: Callable[..., Row | None], event: Any, *args: Any) -> Row | None:
    """The fast path's row, or None when the event is not plain."""
    try:
        return plain_row(event, *args)
    except _NOT_PLAIN:
        return None


def hit_row(event: Obj, classification: str | None = None) -> Row:
    """Flatten a `hit` event (open, click/redirection, mirror, form, unsubscribe, …).

    Args:
        event: the raw event, already validated by `normalize_events` (or known good).
        classification: the `classification` filter the hits were requested with, if any.

    Returns:
        The row in `SCHEMAS["hits"]` column order.
    """
    row = _plain_or_none(_plain_hit, event, classification)
    return _general_hit_row(event, classification) if row is None else row


def activation_row(event: Obj) -> Row:
    """Flatten an `activation` event (a message handed over for sending): envelope + extra."""
    row = _plain_or_none(_plain_activation, event)
    return _general_activation_row(event) if row is None else row


def bounce_row(event: Obj) -> Row:
    """Flatten a `bounce` event: envelope, SMTP status and NP6's hard/soft analysis."""
    row = _plain_or_none(_plain_bounce, event)
    return _general_bounce_row(event) if row is None else row


def cancellation_row(event: Obj) -> Row:
    """Flatten a `cancellation` event: a send that NP6 stopped, with the policy and reason."""
    row = _plain_or_none(_plain_cancellation, event)
    return _general_cancellation_row(event) if row is None else row


def execution_row(event: Obj) -> Row:
    """Flatten an `execution` event (a send request) with its personalisation `data` as JSON."""
    row = _plain_or_none(_plain_execution, event)
    return _general_execution_row(event) if row is None else row


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


def normalize_events(events: Iterable[Any], *, classification: str | None = None) -> Normalized:
    """Normalize a batch of raw NP6 events into one Arrow table per event table.

    Args:
        events: decoded JSON elements, e.g. `orjson.loads` of one window's response array.
        classification: the `classification` filter the hits were requested with, if any; used
            as the hits' `classification` when the payload carries none.

    Returns:
        The tables (keyed by name in `EVENT_TABLES`, empty ones omitted) and the rejected
        elements: not an object, `id` not a non-empty string, `timestamp` not an integer (or
        outside years 1-9999), or a shape that made a row function fail. An `id` that occurs
        more than once in a table keeps its first row only (see `_first_row_per_id`).
    """
    row_functions, plain_rows = _ROW_FUNCTIONS, _PLAIN_ROWS
    if classification is not None:
        row_functions = {
            **_ROW_FUNCTIONS, "hits": partial(_general_hit_row, classification=classification)
        }  # fmt: skip
        plain_rows = {
            **_PLAIN_ROWS, "hit": ("hits", partial(_plain_hit, classification=classification))
        }  # fmt: skip
    tables, rejected, drift = _normalize(
        events, _event_problem, _event_table, row_functions, plain_rows
    )
    deduplicated = {name: _first_row_per_id(table) for name, table in tables.items()}
    return Normalized(deduplicated, rejected, drift)


def _first_row_per_id(table: pa.Table) -> pa.Table:
    """`table` with one row per event `id`: the first, when NP6 sent an event more than once.

    A batch (one response) should not repeat an event, but a paging or replication glitch on
    NP6's side can; two rows with one id would then reach the warehouse. Counting distinct ids
    is cheap next to building the table, and the rows are only filtered when some repeat.
    """
    ids = table.column("id")
    if pc.count_distinct(ids).as_py() == table.num_rows:
        return table
    seen: set[str] = set()
    first = [index for index, key in enumerate(ids.to_pylist())
             if key not in seen and not seen.add(key)]  # fmt: skip
    return table.take(first)


def _tables(rows: Mapping[str, Sequence[Row]], drift: list[str] | None = None) -> dict[str, pa.Table]:
    """Build one Arrow table per non-empty list of rows; type changes are noted in `drift`."""
    notes = [] if drift is None else drift
    return {name: _table(name, rows_, notes) for name, rows_ in rows.items() if rows_}


def _table(name: str, rows: Sequence[Row], drift: list[str] | None = None) -> pa.Table:
    """Build a table from rows with explicit types: one row-major conversion, else per column.

    Converting the row tuples as one struct array reads each row's values while they are still
    close in memory; on hit-heavy batches it took half the time of `zip(*rows)` followed by one
    conversion per column. When a value does not fit its column type, the per-column path
    finds the column and coerces it.
    """
    schema = SCHEMAS[name]
    try:
        struct_array = cast(pa.StructArray, pa.array(rows, _ROW_TYPES[name]))
        batch = pa.RecordBatch.from_struct_array(struct_array)
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        columns = zip(*rows, strict=True)
        notes = [] if drift is None else drift
        arrays = [_array(values, field, f"{name}.{field.name}", notes)
                  for values, field in zip(columns, schema, strict=True)]
    else:
        arrays = [_to_microseconds(column) for column in batch.columns]
    return pa.Table.from_arrays(arrays, schema=schema)


def _row_type(schema: pa.Schema) -> pa.StructType:
    """The struct type rows are converted with: epoch-ms columns read as millisecond stamps."""
    return pa.struct(
        field.with_type(_TS_MS) if field.name in _EPOCH_MS_COLUMNS else field for field in schema
    )


_ROW_TYPES = {name: _row_type(schema) for name, schema in SCHEMAS.items()}


def _to_microseconds(column: pa.Array[Any]) -> pa.Array[Any]:
    """Bring a millisecond timestamp column to the schema's microseconds; others unchanged."""
    return column.cast(_TS) if column.type == _TS_MS else column


def _array(
    values: Sequence[Any], field: pa.Field[Any], where: str = "", drift: list[str] | None = None
) -> pa.Array[Any]:
    """Build one column; epoch-ms ints become UTC timestamps by an Arrow cast, not in Python."""
    if field.name in _EPOCH_MS_COLUMNS:
        return pa.array(values, _TS_MS).cast(_TS)
    try:
        array: pa.Array[Any] = pa.array(values, field.type)
        return array
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        if field.type != pa.string():
            raise
    # A string column met a non-string (a number, or an object where NP6 documents a string):
    # keep it as JSON text rather than lose it or fail the batch, and note the type change so
    # the caller reports it (a data-type contract: never coerced silently). Rare, may be slow.
    odd = [type(v).__name__ for v in values if v is not None and not isinstance(v, str)]
    if drift is not None and odd:
        kinds = "/".join(sorted(set(odd)))
        count = f"{len(odd)} value{'' if len(odd) == 1 else 's'}"
        drift.append(f"{where}: {kinds} where NP6 documents text ({count}, stored as JSON text)")
    return pa.array([_as_text(value) for value in values], pa.string())


def _as_text(value: Any) -> str | None:
    """A string column value: strings and None unchanged, anything else as JSON text."""
    return value if value is None or isinstance(value, str) else orjson.dumps(value).decode()


# --------------------------------------------------------------------------------------------
# Actions (management objects, np6-api.md §3.9)
# --------------------------------------------------------------------------------------------

_ACTION_KEYS = frozenset(
    {"type", "id", "name", "description", "creationDate", "informations", "settings",
     "scheduler", "monitor", "content"}
)  # fmt: skip
_INFORMATIONS_KEYS = frozenset({"folder", "category", "state"})
_SCHEDULER_KEYS = frozenset({"type", "startDate", "endDate"})
_MONITOR_KEYS = frozenset({"lastSent"})
_LAST_SENT_KEYS = frozenset({"at"})
# `html` and `text` are the message bodies: known, deliberately not loaded (large, and personal
# content is not analytics); they never reach a column or `extra`.
_CONTENT_KEYS = frozenset({"headers", "subject", "html", "text"})
_HEADERS_KEYS = frozenset({"from", "reply"})
_FROM_KEYS = frozenset({"prefix", "domain", "label"})


def parse_iso(value: object) -> datetime | None:
    """Parse an NP6 management date (ISO-8601) to an aware UTC datetime.

    Accepts 0 to 7 (or more; digits past microseconds are dropped) fractional digits, `Z` or an
    offset, and the `0001-01-01T00:00:00Z` placeholder. A string without offset is taken as UTC,
    since NP6 documents its dates "in UTC" (np6-api.md §1.5).

    Returns:
        The datetime in UTC, or None when `value` is not a string or cannot be parsed.
    """
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: an offset pushing year 1 below range
        return None


def _iso_field(obj: Obj, key: str, path: str, extra: Extra) -> datetime | None:
    """Parse `obj[key]` with `parse_iso`; an unparsable value is kept in `extra` under `path`."""
    value = obj.get(key)
    parsed = parse_iso(value)
    if parsed is None and value is not None:
        extra[path] = value
    return parsed


def _int64(value: Any) -> int | None:
    """`value` when it is an integer that fits int64 (bool excluded), else None."""
    return value if type(value) is int and value in _INT64_RANGE else None


def _int_field(obj: Obj, key: str, path: str, extra: Extra) -> int | None:
    """Return `obj[key]` when it is an int64; otherwise None, keeping the value under `path`."""
    value = obj.get(key)
    number = _int64(value)
    if number is None and value is not None:
        extra[path] = value
    return number


def action_row(action: Obj) -> Row:
    """Flatten one action (`GET /actions` item or `GET /actions/{id}` body).

    The whole `settings` object is kept as JSON in `settings` (and its culture, edition mode and
    purpose in columns); everything else unmapped goes to `extra`, except the message bodies.

    Returns:
        The row in `SCHEMAS["actions"]` column order.
    """
    extra: Extra = {}
    if not _ACTION_KEYS.issuperset(action):
        _spill(action, _ACTION_KEYS, "", extra)
    info = _obj(action, "informations", _INFORMATIONS_KEYS, "informations", extra)
    scheduler = _obj(action, "scheduler", _SCHEDULER_KEYS, "scheduler", extra)
    monitor = _obj(action, "monitor", _MONITOR_KEYS, "monitor", extra)
    last_sent = _obj(monitor, "lastSent", _LAST_SENT_KEYS, "monitor.lastSent", extra)
    content = _obj(action, "content", _CONTENT_KEYS, "content", extra)
    headers = _obj(content, "headers", _HEADERS_KEYS, "content.headers", extra)
    sender = _obj(headers, "from", _FROM_KEYS, "content.headers.from", extra)
    # `settings` lands whole in its own JSON column, so the values read from it need no extra.
    settings = action.get("settings")
    known_settings: Obj = settings if isinstance(settings, dict) else _EMPTY
    purpose = known_settings.get("purpose")
    return (
        action.get("id"), action.get("type"), action.get("name"), action.get("description"),
        _iso_field(action, "creationDate", "creationDate", extra),
        _int_field(info, "folder", "informations.folder", extra),
        _int_field(info, "category", "informations.category", extra),
        _int_field(info, "state", "informations.state", extra),
        scheduler.get("type"),
        _iso_field(scheduler, "startDate", "scheduler.startDate", extra),
        _iso_field(scheduler, "endDate", "scheduler.endDate", extra),
        _iso_field(last_sent, "at", "monitor.lastSent.at", extra),
        content.get("subject"), sender.get("prefix"), sender.get("domain"), sender.get("label"),
        headers.get("reply"), known_settings.get("culture"),
        _int64(known_settings.get("editionMode")),
        purpose.get("type") if isinstance(purpose, dict) else None,
        _json(settings), _dump_extra(extra),
    )  # fmt: skip


def _actions_table(action: Obj) -> str:
    """Every action goes to the `actions` table."""
    return "actions"


def _action_problem(action: Any) -> str | None:
    """Why an element cannot be keyed as an action, or None when it can."""
    if not isinstance(action, dict):
        return "element is not a JSON object"
    action_id = action.get("id")
    if type(action_id) is not str or not action_id:
        return "missing, empty or non-string 'id'"
    return None


def normalize_actions(actions: Iterable[Any]) -> Normalized:
    """Normalize action objects into the `actions` table.

    Args:
        actions: decoded action objects (`GET /actions` items or `GET /actions/{id}` bodies).

    Returns:
        `{"actions": table}` (omitted when no row) and the rejected elements: not an object,
        `id` not a non-empty string, or a shape that made `action_row` fail.
    """
    return _normalize(actions, _action_problem, _actions_table, {"actions": action_row})
