"""The run context: one client per run, and the guard that isolates each resource's failure."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pendulum
import pytest

from sources.np6.errors import (
    NP6AuthError,
    NP6DeadlineReached,
    NP6NotFound,
    NP6ServerError,
    NP6Unreachable,
)
from sources.np6.run import DEADLINE, FAILED, UNAVAILABLE, RunContext
from tests.np6.runs import plan_of


def context(required: frozenset[str] = frozenset()) -> RunContext:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=[]))
    return RunContext.open(plan_of(), transport=transport, required=required)


def failing(exc: Exception, first: Any = "row") -> Iterator[Any]:
    yield first
    raise exc


@pytest.mark.parametrize(
    ("exc", "required", "status"),
    [
        pytest.param(NP6NotFound("404 on GET /x", status=404, path="/x"), False, UNAVAILABLE, id="404-optional"),
        pytest.param(NP6AuthError("403 on GET /x", status=403, path="/x"), False, UNAVAILABLE, id="403-optional"),
        pytest.param(NP6AuthError("403 on GET /x", status=403, path="/x"), True, FAILED, id="403-required"),
        pytest.param(NP6ServerError("503 on GET /x", status=503, path="/x"), False, FAILED, id="5xx"),
    ],
)
def test_a_failing_resource_keeps_its_rows_and_records_its_outcome(exc: Exception, required: bool, status: str) -> None:
    run = context(frozenset({"thing"}) if required else frozenset())
    out = list(run.guard("thing", failing(exc)))
    assert out[0] == "row"  # what it yielded before failing is kept (and loaded)
    assert len(out) == 2  # then its `_np6_windows` row
    assert run.outcomes["thing"].status == status and run.outcomes["thing"].endpoint == "/x"
    assert list(run.guard("thing", iter(["again"]))) == []  # no further requests to it this run


@pytest.mark.parametrize("exc", [NP6AuthError("401", status=401, path="/x"), NP6Unreachable("down", path="/x")])
def test_a_401_or_an_unreachable_host_stops_the_whole_run(exc: Exception) -> None:
    with pytest.raises(type(exc)):
        list(context().guard("thing", failing(exc)))


def test_the_deadline_stops_a_resource_quietly() -> None:
    run = context()
    assert list(run.guard("thing", failing(NP6DeadlineReached("late")))) == ["row"]
    assert run.outcomes["thing"].status == DEADLINE


def test_the_client_sends_nothing_once_the_deadline_passed() -> None:
    sent: list[httpx.Request] = []
    transport = httpx.MockTransport(lambda request: sent.append(request) or httpx.Response(200, json=[]))
    run = RunContext.open(plan_of(deadline="1s"), transport=transport)
    run.client.deadline = 0.0  # long past
    with pytest.raises(NP6DeadlineReached):
        run.client.get_json("/actions/events")
    assert sent == [] and run.deadline_passed


def test_one_client_serves_every_group_of_a_run() -> None:
    run = context()
    group = run.for_group([])
    assert group.client is run.client and group.outcomes is run.outcomes
    assert run.plan.now == pendulum.datetime(2026, 10, 10, 12, tz="UTC")


def test_a_commit_group_ends_at_a_window_boundary_past_its_row_budget() -> None:
    import orjson

    from sources.np6.cursors import WindowedRead, scopes
    from sources.np6.events import plan_units, read_batches
    from sources.np6.run import GroupBudget
    from sources.np6.windows import tile

    def answer(request: httpx.Request) -> httpx.Response:
        start = request.url.params["start"]
        events = [{"type": "activation", "id": f"{start}-{n}", "timestamp": 1790812800000 + n} for n in range(3)]
        return httpx.Response(200, content=orjson.dumps(events), headers={"content-type": "application/json"})

    run = RunContext.open(plan_of(), transport=httpx.MockTransport(answer))
    windows = tile(pendulum.datetime(2026, 10, 1), pendulum.datetime(2026, 10, 7), "1d")
    read = WindowedRead(run.plan, scopes(["activations"]), windows=windows, source_state={})
    budget = GroupBudget(rows=1)
    units = plan_units(windows, ("activations",), None)
    batches = read_batches(run.client, units, 1, 0, run.plan.limits, budget)
    seen = [b.unit.window for b in read.track(batches, lambda b: b.unit.window, cut_short=lambda: budget.spent)]
    assert budget.spent and 1 <= len(seen) < len(windows)  # stopped early, on whole windows
    assert read.completed == len(seen)
    assert read.state["resources"]["activations"]["cursor"] == seen[-1].end.to_iso8601_string()
    whole = GroupBudget()
    batches = read_batches(run.client, units, 2, 0, run.plan.limits, whole)
    assert len(list(batches)) == len(windows) and not whole.spent and whole.rows_read == 3 * len(windows)

    # 4 reads in flight, 3 rows a window, a budget of 9 rows: the first read back expects the 3
    # others to bring as much (12 rows), so no fifth window is asked for; counting only the
    # finished reads, windows would go on being sent until the third came back (6 windows).
    tight = GroupBudget(rows=9)
    windows_read = {b.unit.window for b in read_batches(run.client, units, 4, 0, run.plan.limits, tight)}
    assert tight.spent and len(windows_read) == 4
