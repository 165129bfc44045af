"""The sandbox's ground truth for the event tables, shared by the tests that compare loads with it.

An event table holds the action events of its type and, when `notification_events` is loaded
(it is by default), the push notification events of that type: both are expected here.
"""

from __future__ import annotations

from typing import Any

import pendulum

from sources.np6_sandbox import push

TABLE_TYPES = {"hits": "hit", "activations": "activation", "bounces": "bounce",
               "cancellations": "cancellation"}  # fmt: skip
TYPE_TABLES = {"hit": "hits", "activation": "activations", "bounce": "bounces",
               "cancellation": "cancellations", "execution": "executions"}  # fmt: skip


def ms(value: str) -> int:
    return int(pendulum.parse(value).timestamp() * 1000)


def table_of(event_type: str) -> str:
    """The event table an event type lands in."""
    return TYPE_TABLES.get(event_type, "other_events")


def expected_ids(account: Any, table: str, start: str, end: str, *, push_events: bool = True) -> set[str]:
    """Ids the event table `table` must hold after loading `[start, end)`."""
    lo, hi = ms(start), ms(end)
    if table in TABLE_TYPES:
        ids = account.event_ids(lo, hi, types=[TABLE_TYPES[table]])
    else:
        ids = {e["id"] for e in account.events(lo, hi) if table_of(e["type"]) == table}
    if push_events:
        ids |= {e["id"] for e in push.notification_events(account, lo, hi) if table_of(e["type"]) == table}
    return ids


def assert_exact(ws: Any, account: Any, start: str, end: str, *, push_events: bool = True,
                 tables: tuple[str, ...] = (*TABLE_TYPES, "other_events")) -> None:  # fmt: skip
    """Every event table holds exactly the sandbox's ids: none missing, none twice."""
    for table in tables:
        loaded = ws.ids(table)
        assert len(loaded) == len(set(loaded)), f"duplicate ids in {table}"
        assert set(loaded) == expected_ids(account, table, start, end, push_events=push_events), table
