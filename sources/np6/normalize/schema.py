"""The warehouse contract of the normalized tables: table names, column lists, Arrow schemas.

`SCHEMAS[table]` lists each table's columns in the order the row functions (`rows.py`,
`actions.py`) build their tuples; a column is a string unless `_COLUMN_TYPES` says otherwise.
Also here: the type aliases the package shares (`Obj`, `Row`, `Extra`) and the ranges a value
must fall in to fit its column (`_MIN_MS`/`_MAX_MS` for dates, `_INT64_RANGE`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

Obj = Mapping[str, Any]
Row = tuple[Any, ...]
Extra = dict[str, Any]


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
    "os_name", "os_family", "os_vendor", "device_type", "classification", "is_robot",
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
    "is_robot": pa.bool_(),
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


# Dates that Python (and therefore every consumer of the table) can represent: years 1-9999.
_MIN_MS = int(datetime(1, 1, 1, tzinfo=UTC).timestamp() * 1000)
_MAX_MS = int(datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC).timestamp() * 1000)
_INT64_RANGE = range(-(2**63), 2**63)
