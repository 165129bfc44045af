"""Reactivities: reaction events filtered by when they happened and when their message went out
(np6-api.md §3.3, §3.5).

Routes (GET, `X-Key` required), declared as data in `ROUTES`; each takes
`?activationStart&activationEnd&reactivityStart&reactivityEnd&sort`:

    /actions/reactivities                      hit, bounce, complaint, reply
    /actions/reactivities/{bounces|hits}
    /actions/reactivities/hits/{open|redirection|mirror|form|unsubscribe}
    /actions/{id}/reactivities...              the same, for one action
    /notifications/reactivities                hit, impression, bounce, optout
    /notifications/reactivities/{bounces|hits|impressions|optouts}
    /notifications/{nid}/reactivities...       the same, for one notification

Choices of the sandbox where the reference is silent, so nobody takes them for NP6 behaviour:

- The activation window (`activationStart`/`activationEnd`) is applied to the event's own
  `stamp.time`: the sandbox's stand-in for the time of the underlying activation, which events do
  not carry. The reactivity window (`reactivityStart`/`reactivityEnd`) is applied to the event's
  `timestamp`. All four are optional (absent = unbounded), starts inclusive, ends exclusive; each
  is an ISO date, an ISO datetime or epoch milliseconds (anything else: 400 naming it).
- Reactions are the action event types hit, bounce, complaint and reply (not activation,
  cancellation or execution); for notifications hit, impression, bounce and optout.
- Events are the very JSON of the event routes; `sort` as there (absent: a new shuffle).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from . import push
from .data import HIT_TYPES, Account, EventFilter
from .management import Call, ManagementRoute, instant, json_array, ordered, route

FAMILIES = {
    "actions": frozenset({"hit", "bounce", "complaint", "reply"}),
    "notifications": frozenset({"hit", "impression", "bounce", "optout"}),
}
PARAMETERS = ("activationStart", "activationEnd", "reactivityStart", "reactivityEnd")
_PLURALS = {"bounces": "bounce", "hits": "hit", "impressions": "impression", "optouts": "optout"}


def _set(values: str | Iterable[str] | None) -> frozenset[str] | None:
    if values is None:
        return None
    return frozenset([values]) if isinstance(values, str) else frozenset(values)


def _within(ms: int, lo: int | None, hi: int | None) -> bool:
    return (lo is None or lo <= ms) and (hi is None or ms < hi)


def _stamp_time(event: dict[str, Any]) -> int:
    detail = event["source"]["detail"]
    return int((detail.get("activation") or detail["execution"])["stamp"]["time"])


def reactivities(
    account: Account,
    family: str,
    activation_start: int | None = None,
    activation_end: int | None = None,
    reactivity_start: int | None = None,
    reactivity_end: int | None = None,
    item_id: str | int | None = None,
    types: str | Iterable[str] | None = None,
    hit_types: str | Iterable[str] | None = None,
) -> list[dict[str, Any]]:
    """Reaction events of `family` (`actions` or `notifications`) with `stamp.time` in the
    activation window and `timestamp` in the reactivity window, of one action / notification
    (`item_id`; None: all), of some reaction types and hit link types (None: all), sorted by
    (timestamp, id): the ground truth of the reactivity routes."""
    if family not in FAMILIES:
        raise ValueError(f"family must be actions or notifications, got {family!r}")
    wanted = FAMILIES[family] & (_set(types) or FAMILIES[family])
    if family == "actions":
        found = account.events(reactivity_start, reactivity_end, types=wanted,
                               action_id=None if item_id is None else str(item_id), hit_types=hit_types)  # fmt: skip
    else:
        found = push.notification_events(account, reactivity_start, reactivity_end,
                                         None if item_id is None else int(item_id), wanted)  # fmt: skip
        links = _set(hit_types)
        if links is not None:
            found = [e for e in found if e["type"] == "hit" and e["source"]["detail"]["link"]["type"] in links]
    return [e for e in found if _within(_stamp_time(e), activation_start, activation_end)]


def _windows(call: Call) -> tuple[int | None, int | None, int | None, int | None]:
    """`activationStart`, `activationEnd`, `reactivityStart`, `reactivityEnd` as epoch ms."""
    act_lo, act_hi, lo, hi = (instant(call.params, name) for name in PARAMETERS)
    return act_lo, act_hi, lo, hi


def _action_items(account: Account, flt: EventFilter,
                  windows: tuple[int | None, int | None, int | None, int | None]) -> list[bytes]:  # fmt: skip
    """The served JSON of the matching action reactions, in (timestamp, id) order: the hours'
    rendered events, filtered on the records' stamp time."""
    act_lo, act_hi, lo, hi = windows
    if act_lo is not None:  # stamp.time precedes the event: nothing before activationStart
        lo = act_lo if lo is None else max(lo, act_lo)
    items = []
    for index in account.bucket_range(lo, hi):
        bucket, records = account.bucket(index), account.records(index)
        rows = bucket.select(-(2**63) if lo is None else lo, 2**63 if hi is None else hi, flt)
        items += [bucket.json[row] for row in rows if _within(records[row][8], act_lo, act_hi)]
    return items


def _actions(types: frozenset[str], hit_types: frozenset[str] | None = None) -> Any:
    def answer(call: Call) -> Any:
        flt = EventFilter(types, call.groups.get("id"), hit_types)
        return json_array(ordered(_action_items(call.account, flt, _windows(call)), call.params))

    return answer


def _notifications(types: frozenset[str]) -> Any:
    def answer(call: Call) -> list[dict[str, Any]]:
        nid = push.notification_id(call) if "nid" in call.groups else None
        act_lo, act_hi, lo, hi = _windows(call)
        found = reactivities(call.account, "notifications", act_lo, act_hi, lo, hi, item_id=nid, types=types)
        return ordered(found, call.params)

    return answer


def _family_routes(prefix: str, family: str) -> list[ManagementRoute]:
    """The reactivity routes under `prefix` (e.g. `/actions/{id}`)."""
    serve = _actions if family == "actions" else _notifications
    plurals = ("bounces", "hits") if family == "actions" else tuple(_PLURALS)
    routes = [route(f"{prefix}/reactivities", serve(FAMILIES[family]))]
    routes += [route(f"{prefix}/reactivities/{p}", serve(frozenset({_PLURALS[p]}))) for p in plurals]
    if family == "actions":
        routes += [route(f"{prefix}/reactivities/hits/{hit}", _actions(frozenset({"hit"}), frozenset({hit})))
                   for hit in HIT_TYPES]  # fmt: skip
    return routes


# Account-wide routes first: `/actions/{id}/reactivities` would match `/actions/reactivities/hits`.
ROUTES: tuple[ManagementRoute, ...] = (
    *_family_routes("/actions", "actions"),
    *_family_routes("/actions/{id}", "actions"),
    *_family_routes("/notifications", "notifications"),
    *_family_routes("/notifications/{nid}", "notifications"),
)
