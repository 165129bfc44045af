"""Ground-truth comparisons shared by the fault tests."""

from __future__ import annotations

from typing import Any

import pendulum

START, END = "2026-10-01", "2026-10-03"
TABLE_TYPES = {"hits": "hit", "activations": "activation", "bounces": "bounce",
               "cancellations": "cancellation"}  # fmt: skip
SMALL = {"days": 2, "events_per_day": 600}  # a small account: fast, still every event type


def ms(value: str) -> int:
    return int(pendulum.parse(value).timestamp() * 1000)


def expected_ids(account: Any, table: str, start: str = START, end: str = END) -> set[str]:
    return account.event_ids(ms(start), ms(end), types=[TABLE_TYPES[table]])


def assert_exact(ws: Any, account: Any, start: str = START, end: str = END) -> None:
    """Every event table holds exactly the sandbox's ids: none missing, none twice."""
    for table in TABLE_TYPES:
        loaded = ws.ids(table)
        assert len(loaded) == len(set(loaded)), f"duplicate ids in {table}"
        assert set(loaded) == expected_ids(account, table, start, end), table


def one_line_error(result: Any, *, code: int, must: tuple[str, ...], key: str) -> str:
    """The run failed with exactly one line on stderr, holding every word of `must`."""
    assert result.code == code, result.output
    lines = [line for line in result.err.splitlines() if line.startswith("np6: ")]
    assert len(lines) == 1, result.err
    assert "Traceback" not in result.output
    assert key not in result.output
    for word in must:
        assert word in lines[0], lines[0]
    return lines[0]


EVENT_RESOURCES = "hits,activations,bounces,cancellations,executions,other_events"
FAST = {"SOURCES__NP6__DECODE_WORKERS": "0"}  # one small process per run: the tests stay quick


def load(ws: Any, *args: str, start: str = START, end: str = END, timeout: float = 300) -> Any:
    """`np6 load` of the event tables over `[start, end)` (a backfill), with extra arguments."""
    return ws.np6("load", "--start", start, "--end", end, "--resources", EVENT_RESOURCES, *args,
                  timeout=timeout)
