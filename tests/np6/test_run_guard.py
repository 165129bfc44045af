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
