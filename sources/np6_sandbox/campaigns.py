"""Campaigns and the events of their items (np6-api.md §3.4, §3.19).

Routes (`X-Key` required), declared as data in `ROUTES`:

    GET  /campaigns
    POST /campaigns/{campaign}/events          ?start&end&sort, JSON body {"itemsEvents": [...]}

Choices of the sandbox where the reference is silent, so nobody takes them for NP6 behaviour:

- Two campaigns: the first holds the first half of the actions (rounded up), the second the rest.
  Item ids are the action id strings, although the reference types them int32 (a documented
  inconsistency); an item's `type` is its action's channel, `email` or `sms`.
- The body lists, per channel, event selectors and items:
  `{"itemsEvents": [{"type": "email", "events": [{"type": "hit", "subtypes": ["open"]},
  {"type": "activation"}], "items": ["000PE4"]}]}`. The answer is the action events (the JSON of
  `/actions/events`) of the listed items that belong to the campaign and whose action's channel
  is the entry's `type`, of the listed event types; `subtypes` filters a hit's link type (absent
  or empty: all). Items of another campaign or channel, and unknown event types, match nothing.
  An event matched by several selectors is returned once.
- `start` inclusive, `end` exclusive on the event timestamp; `sort` as on the event routes.
- A body that is not JSON, or without an `itemsEvents` array of well-formed entries, answers 400
  naming what is wrong; an unknown campaign 404; a GET on the events route 405.
"""

from __future__ import annotations

import functools
import random
import uuid
from collections.abc import Callable
from typing import Any

import orjson

from .data import Account, EventFilter
from .management import Call, ManagementRoute, NotFound, instant, json_array, ordered, route
from .times import DAY_MS, iso_z

Selectors = dict[str, list[tuple[str, frozenset[str] | None]]]  # action id -> (event type, link types)


def _channel(action_type: str) -> str:
    return "sms" if action_type.startswith("sms") else "email"


@functools.lru_cache(maxsize=16)
def _campaigns(account: Account) -> tuple[dict[str, Any], ...]:
    rng = random.Random(f"np6-sandbox/{account.spec.seed}/campaigns")
    actions = account.actions()
    half = (len(actions) + 1) // 2
    out = []
    for name, members in (("Rentrée 2026", actions[:half]), ("Fêtes de fin d'année", actions[half:])):
        created = account.spec.start_ms - rng.randrange(30 * DAY_MS, 90 * DAY_MS)
        out.append({
            "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "name": name,
            "description": f"{name} (bac à sable)",
            "startDate": iso_z(account.spec.start_ms, 3),
            "endDate": iso_z(account.spec.end_ms, 3),
            "creationDate": iso_z(created, 3),
            "updateDate": iso_z(created + rng.randrange(DAY_MS, 20 * DAY_MS), 3),
            "items": [{"type": _channel(a["type"]), "id": a["id"]} for a in members],
        })  # fmt: skip
    return tuple(out)


def campaigns(account: Account) -> list[dict[str, Any]]:
    """The `GET /campaigns` body (a deep copy)."""
    return orjson.loads(orjson.dumps(_campaigns(account)))


def _strings(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{where} must be an array of strings")
    return value


def selectors(account: Account, campaign_id: str, body: Any) -> Selectors:
    """Per action id of the campaign, the (event type, link types) its body asks for.

    Raises NotFound for an unknown campaign, ValueError (naming the part) for a bad body.
    """
    found = next((c for c in _campaigns(account) if c["id"] == campaign_id), None)
    if found is None:
        raise NotFound(f"unknown campaign {campaign_id!r}")
    if not isinstance(body, dict) or not isinstance(body.get("itemsEvents"), list):
        raise ValueError("the body must be a JSON object with an itemsEvents array")
    channels = {item["id"]: item["type"] for item in found["items"]}
    out: Selectors = {}
    for n, entry in enumerate(body["itemsEvents"]):
        where = f"itemsEvents[{n}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("type"), str):
            raise ValueError(f"{where} must be an object with a string type")
        events = entry.get("events")
        if not isinstance(events, list) or not all(isinstance(e, dict) and isinstance(e.get("type"), str)
                                                   for e in events):  # fmt: skip
            raise ValueError(f"{where}.events must be an array of objects with a string type")
        wanted = [(e["type"], frozenset(_strings(e.get("subtypes") or [], f"{where}.events.subtypes")) or None)
                  for e in events]  # fmt: skip
        for action_id in _strings(entry.get("items"), f"{where}.items"):
            if channels.get(action_id) == entry["type"]:
                out.setdefault(action_id, []).extend(wanted)
    return out


def _matches(chosen: Selectors) -> Callable[[str, str, str | None], bool]:
    """Whether an event (action id, type, link type) is one the selectors ask for."""

    def match(action_id: str, etype: str, hit_type: str | None) -> bool:
        return any(t == etype and (links is None or hit_type in links) for t, links in chosen.get(action_id, ()))

    return match


def campaign_events(account: Account, campaign_id: str, body: dict[str, Any], start_ms: int | None = None,
                    end_ms: int | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """The events the campaign route answers for `body`, in `[start_ms, end_ms)` (None:
    unbounded), sorted by (timestamp, id): the ground truth."""
    chosen = selectors(account, campaign_id, body)
    match, types = _matches(chosen), {t for wanted in chosen.values() for t, _ in wanted}
    out = []
    for event in account.events(start_ms, end_ms, types=types) if types else ():
        detail = event["source"]["detail"]
        item = detail.get("activation") or detail["execution"]
        if match(item["id"], event["type"], detail.get("link", {}).get("type") if event["type"] == "hit" else None):
            out.append(event)
    return out


def _events(call: Call) -> Any:
    try:
        body = orjson.loads(call.body)
    except orjson.JSONDecodeError:
        raise ValueError("the body is not JSON (expected an object with itemsEvents)") from None
    chosen = selectors(call.account, call.groups["campaign"], body)
    match = _matches(chosen)
    start, end = instant(call.params, "start"), instant(call.params, "end")
    account, items = call.account, []
    lo, hi = -(2**63) if start is None else start, 2**63 if end is None else end
    flt = EventFilter(frozenset(t for wanted in chosen.values() for t, _ in wanted))
    for index in account.bucket_range(start, end) if chosen else ():
        bucket = account.bucket(index)
        items += [bucket.json[row] for row in bucket.select(lo, hi, flt)
                  if match(bucket.actions[row], bucket.types[row], bucket.hit_types[row])]  # fmt: skip
    return json_array(ordered(items, call.params))


ROUTES: tuple[ManagementRoute, ...] = (
    route("/campaigns", lambda call: campaigns(call.account)),
    route("/campaigns/{campaign}/events", _events, method="POST"),
)
