"""Dimension resources: small NP6 objects refreshed on every run and merged on `id`."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import dlt
import pyarrow as pa

from .client import NP6Client
from .errors import NP6BadResponse, NP6NotFound
from .normalize import normalize_actions
from .settings import ACTION_PATH, ACTIONS_PATH

log = logging.getLogger("np6.dimensions")
_warned: set[str] = set()


def warn_deprecated(path: str, why: str) -> None:
    """Say once per process that a deprecated NP6 endpoint is in use, and why."""
    if path not in _warned:
        _warned.add(path)
        log.warning("GET %s is deprecated in NP6 API 8.1.0; used because %s", path, why)


def list_actions(client: NP6Client) -> list[dict[str, Any]]:
    """All actions of the account from the (deprecated, unreplaced) list operation."""
    data, _ = client.get_json(ACTIONS_PATH, context="actions")
    warn_deprecated(ACTIONS_PATH, "the reference names no other way to list actions")
    if not isinstance(data, list):
        raise NP6BadResponse(
            f"NP6 answered GET {ACTIONS_PATH} with a JSON {type(data).__name__}, expected an array",
            path=ACTIONS_PATH,
        )
    return data


def action_detail(client: NP6Client, summary: dict[str, Any]) -> dict[str, Any]:
    """The list item completed by `GET /actions/{id}` (description, subject, sender)."""
    path = ACTION_PATH.format(action_id=summary.get("id"))
    try:
        detail, _ = client.get_json(path, context="action detail")
    except NP6NotFound:
        return summary  # deleted between the list and the detail call: keep what the list gave
    return {**summary, **detail} if isinstance(detail, dict) else summary


@dlt.resource(name="actions", primary_key="id", write_disposition="merge",
              columns={"extra": {"data_type": "json"}, "settings": {"data_type": "json"}})
def actions(client: NP6Client, concurrency: int = 4) -> Iterator[pa.Table]:
    """Email and SMS actions with their details; full refresh (NP6 gives no update date)."""
    summaries = [a for a in list_actions(client) if isinstance(a, dict)]
    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="np6") as pool:
        full = list(pool.map(lambda s: action_detail(client, s), summaries))
    normalized = normalize_actions(full)
    for table in normalized.tables.values():
        yield table
    if normalized.rejected:
        log.warning("%d action(s) without an id were not loaded", len(normalized.rejected))
