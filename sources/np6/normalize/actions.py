"""Actions (management objects, np6-api.md §3.9): one action in, one `actions` row out.

Also `parse_iso`, the parser of NP6's ISO-8601 management dates, which the resource modules
(archives, dimensions, exports, contacts) use as well.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from .batches import Normalized, _normalize
from .keys import _EMPTY, _dump_extra, _json, _obj, _spill
from .schema import _INT64_RANGE, Extra, Obj, Row


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
