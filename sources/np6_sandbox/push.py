"""Push notifications and their events (np6-api.md §3.5, §3.21, seeds/001).

Routes (GET, `X-Key` required), declared as data in `ROUTES`:

    /notifications
    /notifications/{nid}/events                                      ?start&end&sort
    /notifications/{nid}/events/{executions|cancellations|activations|hits|impressions|bounces|optouts}

`start` (inclusive), `end` (exclusive) and `sort` work as on the action event routes (`sort`
absent: a new shuffle on every request). Choices of the sandbox where the reference is silent, so
nobody takes them for NP6 behaviour:

- Three `push-app` notifications, ids 156, 157 and 158, shaped like the duplication answer of
  seeds/001, each bound to a mobile application of `GET /parameters/applications` and with one
  master version.
- Events are generated one UTC hour at a time from a stream of their own (they never appear in
  `/actions/events`): about `events_per_day / 20` a day, at least 3 an hour (none when the account
  has no events). Envelope as action events, `source.type` = `notification`.
- Activation-based types (`activation`, `hit`, `impression`, `bounce`, `optout`) carry
  `detail.activation` with the notification id as an integer, `kind` = `application` and the
  contact's email footprint as `receiver.value`; execution-based ones (`execution`,
  `cancellation`) carry `detail.execution` with a `recipient` of the same shape. A `hit` adds a
  `link` (`redirection`, "open app"), a `bounce` an async hard bounce of a push token, a
  `cancellation` a "no active subscription" policy.
- Stamp ids are one per (notification, contact), threads the contact's; `stamp.time` precedes the
  event by seconds (activation, execution, cancellation) or minutes to days (reactions).
- An unknown or non-numeric notification id answers 404.
"""

from __future__ import annotations

import functools
import hashlib
import random
import uuid
from typing import Any

import orjson

from . import catalogue
from .data import Account
from .management import Call, ManagementRoute, NotFound, dimension, instant, ordered, route
from .times import DAY_MS, HOUR_MS, iso_z

NOTIFICATION_IDS = (156, 157, 158)
EXECUTION_TYPES = ("execution", "cancellation")
ACTIVATION_TYPES = ("activation", "hit", "impression", "bounce", "optout")
EVENT_TYPES = (*EXECUTION_TYPES, *ACTIVATION_TYPES)
PLURALS = {"executions": "execution", "cancellations": "cancellation", "activations": "activation",
           "hits": "hit", "impressions": "impression", "bounces": "bounce", "optouts": "optout"}  # fmt: skip
# Event types by share of notification events, in percent.
_TYPE_TABLE = tuple(t for t, pct in (("execution", 28), ("cancellation", 4), ("activation", 26), ("hit", 14),
                                      ("impression", 20), ("bounce", 4), ("optout", 4)) for _ in range(pct))  # fmt: skip
_NAMES = ("Bienvenue dans l'appli", "Panier oublié 🛒", "Alerte « prix en baisse »")
_HIT = {"type": "redirection", "label": "open app", "source": "push"}
_BOUNCE = {"status": {"type": "async", "code": {"enhanced": "5.0.0"}, "diagnostic": "token not registered",
                      "mta": ""},
           "analysis": {"verdict": "hard", "subject": {"type": "subscription"}}}  # fmt: skip
_CANCELLATION = {"type": "user defined policy",
                 "value": {"type": "subscription", "message": "no active subscription"}}  # fmt: skip


def _rng(account: Account, what: str) -> random.Random:
    return random.Random(f"np6-sandbox/{account.spec.seed}/notifications/{what}")


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _stamp(account: Account, rng: random.Random) -> dict[str, str]:
    created = account.spec.start_ms - rng.randrange(10 * DAY_MS, 200 * DAY_MS)
    return {"creation": iso_z(created, 3), "modification": iso_z(created + rng.randrange(DAY_MS, 9 * DAY_MS), 3)}


@functools.lru_cache(maxsize=16)
def _notifications(account: Account) -> tuple[dict[str, Any], ...]:
    rng = _rng(account, "catalogue")
    apps = [a["id"] for a in dimension(account, "applications")[:2]]  # the two mobile (native) apps
    out = []
    for index, (nid, name) in enumerate(zip(NOTIFICATION_IDS, _NAMES)):
        out.append({
            "type": "push-app", "id": nid, "name": name, "description": f"{name} (bac à sable)",
            "stamp": _stamp(account, rng), "active": index != 2,
            "settings": {"urgent": index == 1, "purpose": {"type": ("marketing", "service")[index % 2]},
                         "expiration": {"type": "none"}, "mp": {}},
            "application": apps[index % len(apps)],
            "task": {"id": _uuid(rng), "name": f"Tâche {nid}", "description": f"Envoi de {name}",
                     "scheduler": {"type": "asap"}},
            "versions": [{"id": _uuid(rng), "master": True, "label": "Version 1", "stamp": _stamp(account, rng),
                          "scripting": {"version": "1"}, "content": {"type": "push"},
                          "redirection": {"type": "literal"}, "channel": {"type": "default"}}],
        })  # fmt: skip
    return tuple(out)


def notifications(account: Account) -> list[dict[str, Any]]:
    """The `GET /notifications` body (a deep copy)."""
    return orjson.loads(orjson.dumps(_notifications(account)))


def _stamp_id(account: Account, nid: int, target_id: str) -> str:
    """One stamp id per (notification, contact)."""
    digest = hashlib.sha1(f"np6-sandbox/{account.spec.seed}/push-stamp/{nid}/{target_id}".encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def _hour(account: Account, index: int) -> list[dict[str, Any]]:
    """The notification events of hour `index`, sorted by (timestamp, id)."""
    spec = account.spec
    if spec.events_per_day <= 0:
        return []
    rng = _rng(account, f"hour/{index}")
    n = max(3, round(spec.events_per_day / 20 / 24 * (0.7 + 0.6 * rng.random())))
    start = spec.start_ms + index * HOUR_MS
    times = [start + rng.randrange(HOUR_MS) for _ in range(n)]
    ids = [eid.decode() for eid in catalogue.uuids(rng, n)]
    versions = {n["id"]: n["versions"][0]["id"] for n in _notifications(account)}
    identity = account._actions[0].identity  # the account's identity, read only
    events = []
    for ts, eid in zip(times, ids):
        nid = NOTIFICATION_IDS[(0, 0, 0, 1, 1, 2)[int(rng.random() * 6)]]  # skewed, like actions
        contact = account._contacts[int(rng.random() * catalogue.CONTACTS)]
        etype = _TYPE_TABLE[int(rng.random() * len(_TYPE_TABLE))]
        reaction = etype in ("hit", "impression", "bounce", "optout")
        lag = 60_000 + int(rng.random() * 3 * DAY_MS) if reaction else 500 + int(rng.random() * 7500)
        stamp = {"time": ts - lag, "id": _stamp_id(account, nid, contact.id), "thread": contact.thread}
        head = {"id": nid, "version": versions[nid], "kind": "application"}
        who = {"type": "contact", "value": dict(contact.footprints[0].obj)}
        if etype in EXECUTION_TYPES:
            detail: dict[str, Any] = {"execution": head | {"recipient": who, "stamp": stamp}}
        else:
            detail = {"activation": head | {"receiver": who, "stamp": stamp}}
        if etype == "hit":
            detail["link"] = dict(_HIT)
        elif etype == "bounce":
            detail["bounce"] = orjson.loads(orjson.dumps(_BOUNCE))
        elif etype == "cancellation":
            detail["cancellation"] = orjson.loads(orjson.dumps(_CANCELLATION))
        events.append({"type": etype, "id": eid, "timestamp": ts, "identity": dict(identity),
                       "source": {"type": "notification", "detail": detail}})  # fmt: skip
    events.sort(key=lambda e: (e["timestamp"], e["id"]))
    return events


def item_of(event: dict[str, Any]) -> dict[str, Any]:
    """The `activation` or `execution` object of an event's detail."""
    detail = event["source"]["detail"]
    return detail.get("activation") or detail["execution"]


def notification_events(account: Account, start_ms: int | None = None, end_ms: int | None = None,
                        notification_id: int | None = None,
                        types: str | frozenset[str] | tuple[str, ...] | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """Notification events with `start_ms <= timestamp < end_ms` (None: unbounded), of one
    notification and of some types (None: all), sorted by (timestamp, id): the ground truth."""
    wanted = frozenset([types]) if isinstance(types, str) else (frozenset(types) if types else None)
    lo = -(2**63) if start_ms is None else start_ms
    hi = 2**63 if end_ms is None else end_ms
    return [e for index in account.bucket_range(start_ms, end_ms) for e in _hour(account, index)
            if lo <= e["timestamp"] < hi and (wanted is None or e["type"] in wanted)
            and (notification_id is None or item_of(e)["id"] == notification_id)]  # fmt: skip


def notification_id(call: Call) -> int:
    """The `{nid}` of a path as a known notification id; NotFound otherwise."""
    nid = call.groups["nid"]
    if not nid.isdigit() or int(nid) not in NOTIFICATION_IDS:
        raise NotFound(f"unknown notification {nid!r}")
    return int(nid)


def _events(types: frozenset[str] | None) -> Any:
    def answer(call: Call) -> list[dict[str, Any]]:
        nid = notification_id(call)
        found = notification_events(call.account, instant(call.params, "start"), instant(call.params, "end"),
                                    nid, types)  # fmt: skip
        return ordered(found, call.params)

    return answer


ROUTES: tuple[ManagementRoute, ...] = (
    route("/notifications", lambda call: notifications(call.account)),
    route("/notifications/{nid}/events", _events(None)),
    *(route(f"/notifications/{{nid}}/events/{plural}", _events(frozenset({singular})))
      for plural, singular in PLURALS.items()),
)  # fmt: skip
