"""What each NP6 event object is known to hold, and where the rest goes: the `extra` column.

The known-key frozensets (one per object of the payload), the carriers (where an event family
keeps its action, receiver and stamp, with the dotted paths of their odd values), and the helpers
that read a nested object and spill its unmapped keys into `extra` under their dotted path from
the event root (`_spill`, `_odd`, `_obj`), plus the JSON text of a value and of `extra` itself.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, NamedTuple

import orjson

from .schema import Extra, Obj


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

# `classification` may sit in `source.detail` or in `client` (the reference does not say where).
_HIT_DETAIL_KEYS = frozenset({"activation", "link", "client", "classification"})
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
