"""Campaign events: the request body, the link rows and `post_json` (no network)."""

from __future__ import annotations

import httpx
import orjson
import pendulum
import pytest

from sources.np6.campaigns import CAMPAIGN_EVENT_SELECTORS, events_body, link_table, plan_campaign_units
from sources.np6.client import NP6Client
from sources.np6.errors import NP6BadResponse
from sources.np6.normalize import normalize_events
from sources.np6.windows import Window
from tests.np6.test_normalize import ACTIVATION, MIRROR_HIT, NOTIFICATION_OPTOUT

ITEMS = [{"type": "email", "id": "000PE4"}, {"type": "sms", "id": "000PE9"}, {"type": "email", "id": "000PE5"},
         {"id": "no-type"}, "junk"]
WINDOW = Window(pendulum.datetime(2026, 10, 1), pendulum.datetime(2026, 10, 2))


def test_body_has_one_entry_per_channel_with_every_selector() -> None:
    body = events_body(ITEMS)
    assert [(e["type"], e["items"]) for e in body["itemsEvents"]] == [("email", ["000PE4", "000PE5"]),
                                                                     ("sms", ["000PE9"])]
    hit = next(s for s in body["itemsEvents"][0]["events"] if s["type"] == "hit")
    assert hit["subtypes"] == ["open", "redirection", "mirror", "form", "unsubscribe"]
    assert [s["type"] for s in body["itemsEvents"][0]["events"]] == [s["type"] for s in CAMPAIGN_EVENT_SELECTORS]
    assert events_body(ITEMS, ["000PE9"])["itemsEvents"] == [{**body["itemsEvents"][1]}]
    assert events_body([]) is None and events_body(None) is None


def test_units_skip_campaigns_without_items() -> None:
    units = plan_campaign_units([WINDOW], [{"id": "c/1", "items": ITEMS}, {"id": "c2", "items": []}, {"items": ITEMS}])
    assert [(u.campaign_id, u.path) for u in units] == [("c/1", "/campaigns/c%2F1/events")]


def test_link_rows_name_every_event_once_with_its_type() -> None:
    tables = normalize_events([ACTIVATION, MIRROR_HIT, NOTIFICATION_OPTOUT]).tables
    rows = link_table("camp", tables).to_pylist()
    assert sorted((r["campaign_id"], r["event_id"], r["event_type"]) for r in rows) == sorted([
        ("camp", ACTIVATION["id"], "activation"), ("camp", MIRROR_HIT["id"], "hit"),
        ("camp", NOTIFICATION_OPTOUT["id"], "optout")])
    assert link_table("camp", {}) is None


def test_post_json_sends_the_body_and_retries_like_get() -> None:
    seen: list[tuple[str, dict, dict]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.method, dict(request.url.params), orjson.loads(request.content)))
        if len(seen) == 1:
            return httpx.Response(503)
        return httpx.Response(200, json=[ACTIVATION])

    client = NP6Client("http://np6.test", "k", transport=httpx.MockTransport(handler), backoff_base=0.0)
    data, fetched = client.post_json("/campaigns/c1/events", {"start": "a"}, {"itemsEvents": []}, context="w")
    assert data == [ACTIVATION] and (fetched.requests, fetched.retries) == (2, 1)
    assert seen[1] == ("POST", {"start": "a"}, {"itemsEvents": []})


def test_post_json_errors_name_the_method() -> None:
    client = NP6Client("http://np6.test", "k", max_attempts=1,
                       transport=httpx.MockTransport(lambda r: httpx.Response(200, text="<html>")))
    with pytest.raises(NP6BadResponse, match="POST /campaigns/c1/events"):
        client.post_json("/campaigns/c1/events", None, {}, context="[w)")
