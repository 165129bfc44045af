"""The account's contacts as `GET /targets/{id}` shows them, and the redlist timelines.

Routes (GET, `X-Key` required), declared as data in `ROUTES`:

    /targets/redlist/mail                      ?startDate&endDate   (np6-api.md §3.11)
    /targets/redlist/sms                       ?startDate&endDate
    /targets/{target}                          (seeds/002)

Contacts are the 3000 of the catalogue, the ones events name: `fields["8103"]` and `fields["8110"]`
are the unicities of their email and sms footprints, `hash` the footprints' hash. Choices of the
sandbox where the reference is silent, so nobody takes them for NP6 behaviour:

- `fields` is keyed by field id (a string), for the fields of `GET /fields`; list fields hold the
  value's integer index (or null), `DATE_NAISSANCE` a `YYYY-MM-DD` string (or null). About 2 % of
  contacts also carry `"8199": "legacy value"`, a field `GET /fields` does not list.
- About 5 % of contacts have one or two `bounce` entries, about 4 % are on the mail redlist and
  2 % on the sms redlist; `redList.<channel>` is `{"timestamp", "reason"}` with `reason` the
  timeline's integer `origin` (0-9), null when not redlisted.
- Dates print with 0 to 3 fractional digits (values are rounded to the second, tenth, hundredth
  or millisecond); the timelines print theirs with exactly 3 and `Z`.
- Timelines: one entry per redlisted contact and channel, `{"id", "timestamp", "origin",
  "detail"}`, sorted by (timestamp, id), spread over [account start - 60 days, account end).
  `detail` is `{"formId": "0000GH"}` when `origin` is 3 (a form), `{}` otherwise. `startDate` is
  inclusive, `endDate` exclusive, both on `timestamp`; absent = unbounded.
- An unknown contact answers 404. Field renames (`SandboxServer.rename_field`) change the names
  `GET /fields` answers, never a contact body: its fields are keyed by id.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Mapping
from typing import Any

import orjson

from .data import Account
from .exports import iso_ms
from .management import Call, ManagementRoute, NotFound, instant, route
from .times import DAY_MS, iso_z

CHANNELS = ("mail", "sms")
BOUNCE_TYPES = {
    "Soft": "452 4.2.2 Mailbox full",
    "HardUser": "550 5.1.1 User unknown",
    "HardDomain": "bad destination system: no such domain",
    "HardOther": "554 5.0.0 Unknown error",
    "ReportAsSpam": "feedback loop: abuse report",
}  # fmt: skip
LEGACY_FIELD = "8199"
_FIRST = ("Marie", "Jean", "Zoé", "Jean-Noël", "Inès", "Théo", "Chloé", "Maxime", "Sarah", "Lucas")
_LAST = ("Martin", "Dubois", "O'Connor", "Le Gall", "García", 'Dupont "Junior"', "Петров", "山田")


def _rng(account: Account, what: str) -> random.Random:
    return random.Random(f"np6-sandbox/{account.spec.seed}/contacts/{what}")


def _rounded(rng: random.Random, ms: int) -> int:
    """`ms` rounded down to a second, tenth, hundredth or millisecond (0-3 printed digits)."""
    step = rng.choice((1000, 100, 10, 1))
    return ms - ms % step


def _fields(rng: random.Random, footprints: tuple[Any, ...]) -> dict[str, Any]:
    birth = rng.choice((None, f"{rng.randrange(1950, 2006)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"))
    fields: dict[str, Any] = {
        "8103": footprints[0].obj["unicity"],
        "8110": footprints[1].obj["unicity"],
        "8120": rng.choice(_FIRST),
        "8121": rng.choice(_LAST),
        "8130": rng.choice((1, 2, 3, None)),
        "8131": rng.choice((1, 2, 3, None)),
        "8140": birth,
        "8150": rng.randrange(5000),
    }
    if rng.random() < 0.02:
        fields[LEGACY_FIELD] = "legacy value"
    return fields


def _bounces(rng: random.Random, lo: int, hi: int) -> list[dict[str, Any]]:
    if rng.random() >= 0.05:
        return []
    out = []
    for _ in range(rng.choice((1, 2))):
        kind = rng.choice(tuple(BOUNCE_TYPES))
        out.append({"field": rng.choice((8103, 8110)), "type": kind,
                    "timestamp": iso_z(_rounded(rng, rng.randrange(lo, hi)), 3), "reason": BOUNCE_TYPES[kind]})  # fmt: skip
    return out


@functools.lru_cache(maxsize=16)
def _book(account: Account) -> tuple[dict[str, dict[str, Any]], dict[str, list[tuple[int, str, int]]]]:
    """Every contact body by id, and per channel the redlist entries (ms, id, origin) in order;
    built once (accounts never change)."""
    rng = _rng(account, "book")
    lo, hi = account.spec.start_ms - 60 * DAY_MS, account.spec.end_ms
    bodies: dict[str, dict[str, Any]] = {}
    timelines: dict[str, list[tuple[int, str, int]]] = {c: [] for c in CHANNELS}
    for contact in account._contacts:  # the catalogue's contacts, read only
        created = _rounded(rng, account.spec.start_ms - rng.randrange(30 * DAY_MS, 900 * DAY_MS))
        updated = max(created, _rounded(rng, rng.randrange(created, hi)))
        red: dict[str, Any] = {}
        for channel, share in zip(CHANNELS, (0.04, 0.02)):
            red[channel] = None
            if rng.random() < share:
                ms, origin = _rounded(rng, rng.randrange(lo, hi)), rng.randrange(10)
                timelines[channel].append((ms, contact.id, origin))
                red[channel] = {"timestamp": iso_z(ms, 3), "reason": origin}
        bodies[contact.id] = {
            "id": contact.id,
            "hash": contact.footprints[0].obj["hash"],
            "creationDate": iso_z(created, 3),
            "lastUpdateDate": iso_z(updated, 3),
            "fields": _fields(rng, contact.footprints),
            "bounce": _bounces(rng, lo, hi),
            "redList": red,
        }
    for entries in timelines.values():
        entries.sort()
    return bodies, timelines


def target_ids(account: Account) -> list[str]:
    """Ids of the account's contacts, sorted."""
    return sorted(_book(account)[0])


def target(account: Account, target_id: str, renames: Mapping[int, str] | None = None) -> dict[str, Any] | None:
    """The `GET /targets/{id}` body of a contact, or None for an unknown id.

    `renames` (a server's field renames) is accepted for symmetry with `GET /fields`; a body keys
    its fields by id, so renames never change it.
    """
    del renames
    body = _book(account)[0].get(target_id)
    return orjson.loads(orjson.dumps(body)) if body is not None else None


def redlist(account: Account, channel: str, start_ms: int | None = None,
            end_ms: int | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """The redlist timeline of `channel` (mail or sms) with `start_ms <= timestamp < end_ms`
    (None: unbounded), sorted by (timestamp, id): the ground truth of the redlist routes."""
    if channel not in CHANNELS:
        raise ValueError(f"channel must be mail or sms, got {channel!r}")
    lo = -(2**63) if start_ms is None else start_ms
    hi = 2**63 if end_ms is None else end_ms
    return [{"id": target_id, "timestamp": iso_ms(ms), "origin": origin,
             "detail": {"formId": "0000GH"} if origin == 3 else {}}
            for ms, target_id, origin in _book(account)[1][channel] if lo <= ms < hi]  # fmt: skip


def _target(call: Call) -> dict[str, Any]:
    body = target(call.account, call.groups["target"], call.renames)
    if body is None:
        raise NotFound(f"unknown target {call.groups['target']!r}")
    return body


def _redlist(channel: str) -> Any:
    return lambda call: redlist(call.account, channel, instant(call.params, "startDate"),
                                instant(call.params, "endDate"))  # fmt: skip


ROUTES: tuple[ManagementRoute, ...] = (
    route("/targets/redlist/mail", _redlist("mail")),  # before /targets/{target}, which would match
    route("/targets/redlist/sms", _redlist("sms")),
    route("/targets/{target}", _target),
)
