"""Ground-truth comparisons shared by the fault tests."""

from __future__ import annotations

from typing import Any

from tests import truth
from tests.truth import ms  # noqa: F401  (the fault tests import it from here)

START, END = "2026-10-01", "2026-10-03"
SMALL = {"days": 2, "events_per_day": 600}  # a small account: fast, still every event type


def expected_ids(account: Any, table: str, start: str = START, end: str = END) -> set[str]:
    """The fault tests load the action event tables only (`EVENT_RESOURCES`): no push events."""
    return truth.expected_ids(account, table, start, end, push_events=False)


def assert_exact(ws: Any, account: Any, start: str = START, end: str = END) -> None:
    """Every event table holds exactly the sandbox's ids: none missing, none twice."""
    truth.assert_exact(ws, account, start, end, push_events=False, tables=tuple(truth.TABLE_TYPES))


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
