"""Notification events in the event feed: the plan, guessed routes that 404, the id list."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import httpx
import orjson
import pendulum
import pytest

from sources.np6.client import NP6Client
from sources.np6.cursors import Scope, cursor_of, mark_done
from sources.np6.errors import NP6BadResponse, NP6NotFound
from sources.np6.events import (
    feed_scopes,
    plan_notification_units,
    plan_units,
    read_batches,
    window_record,
)
from sources.np6.push import (
    NOTIFICATION_EVENT_PATHS,
    NOTIFICATION_EVENT_TABLES,
    NOTIFICATION_EVENTS,
    notification_ids,
)
from sources.np6.windows import Window
from tests.np6.runs import plan_of

START = datetime(2026, 10, 1, tzinfo=UTC)
WINDOWS = [Window(START, START + timedelta(days=1)), Window(START + timedelta(days=1), START + timedelta(days=2))]


def test_one_unit_per_window_and_notification_with_per_type_fallbacks() -> None:
    units = plan_notification_units(WINDOWS, ["156", "157"])
    assert len(units) == 2 * 2
    first = units[0]
    assert (first.path, first.action_id, first.window, first.resource) == (
        "/notifications/156/events", "156", WINDOWS[0], "notification_events")
    assert first.guess == "/notifications/{notification_id}/events"
    fallback = [u for unit in units for u in unit.fallback]
    assert len(fallback) == 2 * 2 * len(NOTIFICATION_EVENT_PATHS)
    assert fallback[0].path == "/notifications/156/events/executions"
    # documented routes are never skipped; the guessed ones carry their template
    assert {u.path.rsplit("/", 1)[1] for u in fallback if u.guess is None} == {"executions", "cancellations"}
    assert all(u.guess == "/notifications/{notification_id}/events/" + u.path.rsplit("/", 1)[1]
               for u in fallback if u.guess)
    # one `_np6_windows` key per request
    keys = {(u.resource, u.action_id, u.window) for u in [*units, *fallback]}
    assert len(keys) == len(units) + len(fallback)


def test_notification_pseudo_table_plans_no_action_request() -> None:
    assert plan_units(WINDOWS, (NOTIFICATION_EVENTS,), None) == []
    mixed = plan_units(WINDOWS, ("hits", "activations", "bounces", "cancellations", NOTIFICATION_EVENTS), None)
    assert [u.path for u in mixed] == ["/actions/events"] * 2


def test_event_tables_of_notification_rows() -> None:
    assert set(NOTIFICATION_EVENT_TABLES) == {"executions", "cancellations", "activations", "hits", "bounces",
                                              "other_events"}


def test_notification_scope_is_account_wide_even_per_action() -> None:
    plan = plan_of(resources=("hits", NOTIFICATION_EVENTS), action_ids="000PE4")
    assert feed_scopes(plan) == [Scope("hits", "000PE4"), Scope(NOTIFICATION_EVENTS)]
    state: dict = {}
    until = Window(pendulum.datetime(2026, 10, 2), pendulum.datetime(2026, 10, 3))
    mark_done(plan, state, feed_scopes(plan), until)
    assert state == {"resources": {"hits": {"actions": {"000PE4": "2026-10-03T00:00:00Z"}},
                                   NOTIFICATION_EVENTS: {"cursor": "2026-10-03T00:00:00Z"}}}
    assert cursor_of(state, Scope(NOTIFICATION_EVENTS)) == until.end


def _event(nid: int, kind: str) -> dict:
    return {"type": kind, "id": f"{nid}-{kind}", "timestamp": 1790812800000,
            "identity": {"type": "customer", "agency": "A", "customer": "1"},
            "source": {"type": "notification", "detail": {"activation": {
                "id": nid, "kind": "application", "receiver": {"type": "contact", "value": {
                    "type": "footprint", "id": "T1", "unicity": "x", "hash": "h"}},
                "stamp": {"time": 1790812800000, "id": "s", "thread": "t"}}}}}


def _per_type_np6(asked: list[str], missing: tuple[str, ...]) -> NP6Client:
    """An NP6 whose routes in `missing` (last path segment) answer 404."""

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        kind = request.url.path.rsplit("/", 1)[1]
        if kind in missing:
            return httpx.Response(404, json={"error": "no such route"})
        nid = int(request.url.path.split("/")[2])
        singular = {"activations": "activation", "hits": "hit", "optouts": "optout"}.get(kind)
        return httpx.Response(200, content=orjson.dumps([_event(nid, singular)] if singular else []),
                              headers={"content-type": "application/json"})

    return NP6Client("http://np6.test", "k", transport=httpx.MockTransport(handler), max_attempts=1)


def test_without_the_all_types_route_the_per_type_routes_are_read(caplog) -> None:
    asked: list[str] = []
    client = _per_type_np6(asked, ("events", "impressions"))
    units = plan_notification_units(WINDOWS, ["156", "157"])
    with caplog.at_level(logging.WARNING, logger="np6.events"):
        batches = list(read_batches(client, units, concurrency=1))
    assert [p for p in asked if p.endswith("/events")] == ["/notifications/156/events"]  # once, then known
    impressions = [p for p in asked if p.endswith("/impressions")]
    assert impressions == ["/notifications/156/events/impressions"]  # asked once, then skipped
    assert len([r for r in caplog.records if "impressions" in r.getMessage()]) == 1
    per_type = len(NOTIFICATION_EVENT_PATHS) - 1  # every route but impressions
    assert len(batches) == 2 * 2 * per_type
    hits = [b for b in batches if "hits" in b.tables]
    assert {b.tables["hits"].column("action_id")[0].as_py() for b in hits} == {"156", "157"}
    assert {b.tables["hits"].column("channel")[0].as_py() for b in hits} == {"notification"}
    row = window_record(hits[0])
    assert (row["resource"], row["action_id"], row["rows"]) == ("notification_events:hits", "156", 1)


def test_the_all_types_route_costs_one_request_per_window_and_notification() -> None:
    asked: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        nid = int(request.url.path.split("/")[2])
        body = [_event(nid, "hit"), _event(nid, "impression")]
        return httpx.Response(200, content=orjson.dumps(body), headers={"content-type": "application/json"})

    client = NP6Client("http://np6.test", "k", transport=httpx.MockTransport(handler), max_attempts=1)
    batches = list(read_batches(client, plan_notification_units(WINDOWS, ["156", "157"]), concurrency=2))
    assert len(asked) == 4 and all(p.endswith("/events") for p in asked)
    assert all(set(b.tables) == {"hits", "other_events"} for b in batches)
    assert {window_record(b)["resource"] for b in batches} == {"notification_events"}


def test_a_documented_route_answering_404_fails() -> None:
    client = NP6Client("http://np6.test", "k", transport=httpx.MockTransport(lambda r: httpx.Response(404)),
                       max_attempts=1)
    with pytest.raises(NP6NotFound):
        list(read_batches(client, plan_notification_units(WINDOWS[:1], ["156"]), concurrency=1))


def test_notification_ids() -> None:
    assert notification_ids([{"id": 156}, {"id": 157, "name": "x"}, {"name": "no id"}]) == ["156", "157"]
    with pytest.raises(NP6BadResponse, match="/notifications"):
        notification_ids({"id": 156})


def test_the_feed_keeps_the_pseudo_table() -> None:
    from sources.np6.events import FEED_TABLES, feed_tables

    assert NOTIFICATION_EVENTS in FEED_TABLES
    plan = plan_of(resources=("actions", NOTIFICATION_EVENTS))
    assert feed_tables(plan) == (NOTIFICATION_EVENTS,)
