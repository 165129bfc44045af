"""The sandbox's archives and management objects (dimensions), derived from one `Account`.

Routes (GET, `X-Key` required), declared as data in `MANAGEMENT_ROUTES`:

    /actions/archives                          ?startDate&endDate   (np6-api.md §3.8)
    /actions/{id}/targets/{target}/archives    ?startDate&endDate
    /targets/{target}/archives                 ?startDate&endDate
    /actions/stamp/{stamp}/archives
    /fields, /valueLists, /segments, /imports, /parameters/applications,
    /marketing/pressure/topics, /marketing/pressure/rules               (§3.12-§3.18)

Choices of the sandbox where the reference is silent, so nobody takes them for NP6 behaviour:

- Archives: one per `activation` event of an email action whose `settings.archive` is true, with
  `sendingDate` = the activation's timestamp and `expiresOn` = `sendingDate` + 32 days (the gap
  of the doc examples). The id is a uuid derived from the activation id. About one `url` in ten is
  blank (`"    "`), as the reference warns.
- `startDate` is inclusive and `endDate` exclusive, both on `sendingDate`; a missing bound is the
  account's span edge. The reference gives no semantics for either.
- `GET /actions/stamp/{stamp}/archives` answers every archive of that (action, contact) stamp,
  an empty array for a well-formed stamp nobody was sent; `/targets/{target}/archives` answers
  an empty array for an unknown contact (NP6 may answer 404).
- Archive responses are `application/vnd.np6.cm.mail.archive`, imports
  `application/vnd.mperf.v8.import.v1+json`. A request whose `Accept` header names neither that
  type nor a wildcard is refused with 406.
- The mobile applications carry provider secrets (a firebase `key`, an apns `certificate` with a
  `password`); `secret_values()` lists them so tests can check none reaches a warehouse.
"""

from __future__ import annotations

import functools
import hashlib
import os
import random
import re
import uuid
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, NamedTuple
from urllib.parse import unquote

import orjson

from .data import Account
from .faults import Reply, error_reply
from .times import DAY_MS, iso_z, parse_ms

ARCHIVE_MEDIA_TYPE = "application/vnd.np6.cm.mail.archive"
IMPORT_MEDIA_TYPE = "application/vnd.mperf.v8.import.v1+json"
JSON_MEDIA_TYPE = "application/json"
ARCHIVE_TTL_MS = 32 * DAY_MS
BLANK_URL = "    "

Params = dict[str, str]


# --- archives ---------------------------------------------------------------------------------


def _archive(record: tuple) -> dict[str, Any]:
    """The archive of one activation record (`render.EventRecord` layout)."""
    ts, eid, action, target = record[0], record[1], record[3], record[6]
    digest = hashlib.sha1(b"np6-sandbox/archive/" + eid).digest()
    archive_id = str(uuid.UUID(bytes=digest[:16], version=4))
    url = BLANK_URL if digest[16] < 26 else (
        f"https://archives.sandbox.invalid/{action.id}/{archive_id}.eml"
        f"?se={_iso(ts + ARCHIVE_TTL_MS)}&sr=b&sp=r&sig={digest[:12].hex()}"
    )  # fmt: skip
    return {
        "id": archive_id,
        "action": action.id,
        "target": target.id,
        "sendingDate": _iso(ts),
        "url": url,
        "expiresOn": _iso(ts + ARCHIVE_TTL_MS),
        "_stamp": action.stamp_head + target.stamp_tail,
        "_ms": ts,
    }


def _iso(ms: int) -> str:
    return iso_z(ms, 3)


def _archived(record: tuple) -> bool:
    action = record[3]
    return record[2] == "activation" and action.channel == "email" and bool(
        action.item.get("settings", {}).get("archive"))  # fmt: skip


def archives(
    account: Account,
    start_ms: int | None = None,
    end_ms: int | None = None,
    *,
    action_id: str | None = None,
    target_id: str | None = None,
    stamp: str | None = None,
) -> list[dict[str, Any]]:
    """Archives with `start_ms <= sendingDate < end_ms`, sorted by (sendingDate, id): the ground
    truth of every archive route. Filters: action, contact, stamp (None: no condition)."""
    lo = -(2**63) if start_ms is None else start_ms
    hi = 2**63 if end_ms is None else end_ms
    out = []
    for index in account.bucket_range(start_ms, end_ms):
        for record in account.records(index):
            if not lo <= record[0] < hi or not _archived(record):
                continue
            if action_id is not None and record[3].id != action_id:
                continue
            if target_id is not None and record[6].id != target_id:
                continue
            item = _archive(record)
            if stamp is None or item["_stamp"] == stamp:
                out.append(item)
    out.sort(key=lambda a: (a["_ms"], a["id"]))
    return [{k: v for k, v in a.items() if not k.startswith("_")} for a in out]


def archive_ids(account: Account, start_ms: int | None = None, end_ms: int | None = None) -> set[str]:
    """Ids of the account-wide archives in `[start_ms, end_ms)`."""
    return {a["id"] for a in archives(account, start_ms, end_ms)}


def stamp_of(account: Account, archive_id: str) -> str | None:
    """The stamp id of the activation behind an archive (for tests of the stamp route)."""
    for index in account.bucket_range():
        for record in filter(_archived, account.records(index)):
            archive = _archive(record)
            if archive["id"] == archive_id:
                return str(archive["_stamp"])
    return None


# --- dimensions -------------------------------------------------------------------------------


def _rng(account: Account, what: str) -> random.Random:
    return random.Random(f"np6-sandbox/{account.spec.seed}/management/{what}")


def _date(account: Account, rng: random.Random, days_before: int = 200) -> str:
    """A date before the account's span, printed with 0 to 3 fractional digits."""
    return iso_z(account.spec.start_ms - rng.randrange(DAY_MS, days_before * DAY_MS), rng.choice((0, 1, 2, 3)))


@functools.lru_cache(maxsize=16)
def _dimensions(account: Account) -> dict[str, list[dict[str, Any]]]:
    """Every management list of the account, built once (accounts never change)."""
    return {
        "fields": _field_list(),
        "valueLists": _value_lists(),
        "segments": _segments(account),
        "imports": _imports(account),
        "applications": _applications(account),
        "topics": _topics(account),
        "rules": _rules(account),
    }


def dimension(account: Account, name: str) -> list[dict[str, Any]]:
    """A deep copy of one management list: `fields`, `valueLists`, `segments`, `imports`,
    `applications`, `topics` or `rules`."""
    return orjson.loads(orjson.dumps(_dimensions(account)[name]))


def _field_list() -> list[dict[str, Any]]:
    def field(type_: str, id_: int, name: str, **more: Any) -> dict[str, Any]:
        return {"type": type_, "id": id_, "name": name, "isUnicity": False, "isMandatory": False,
                "isCriterion": True, **more}  # fmt: skip

    return [
        field("email", 8103, "EMAIL", isUnicity=True, isMandatory=True, constraint={"operator": 0, "value": ""}),
        field("phone", 8110, "TELEPHONE_MOBILE"),
        field("string", 8120, "PRENOM", constraint={"operator": 3, "value": "50"}),
        field("string", 8121, "NOM"),
        field("list", 8130, "CIVILITE", valueListId=24),
        field("list", 8131, "LOISIRS", valueListId=23, isCriterion=False),
        field("date", 8140, "DATE_NAISSANCE"),
        field("integer", 8150, "POINTS_FIDELITE", format="####"),  # `format`: not in the docs
    ]


def _value_lists() -> list[dict[str, Any]]:
    def values(*names: str) -> list[dict[str, Any]]:
        return [{"index": i, "value": v} for i, v in enumerate(names, start=1)]

    return [
        {"id": 23, "name": "Pastimes", "ordered": False, "values": values("Football", "Tennis", "Golf")},
        {"id": 24, "name": "Civility", "ordered": False, "values": values("Mr", "Ms", "Mrs")},
        {"id": 25, "name": "Régions", "ordered": None, "values": values("Île-de-France", "Bretagne")},
    ]


def _segments(account: Account) -> list[dict[str, Any]]:
    rng = _rng(account, "segments")
    out = []
    for index, (type_, name, test) in enumerate((
        ("static", "static segment", False), ("static", "test static segment", True),
        ("dynamic", "test dynamic segment", False), ("dynamic", "clients fidèles", False),
    )):  # fmt: skip
        expiration = None if index == 3 else _date(account, rng, 2)
        item: dict[str, Any] = {"type": type_, "id": 41 + index * 5, "name": name,
                                "creation": _date(account, rng), "expiration": expiration,
                                "isTest": test, "targetsCount": rng.randrange(4, 5000)}  # fmt: skip
        if type_ == "dynamic":
            item |= {"parentId": 41, "searchId": 900 + index, "description": f"{name} (règles)"}
        out.append(item)
    return out


def _imports(account: Account) -> list[dict[str, Any]]:
    rng = _rng(account, "imports")
    report = {"type": "report", "sendFinalReport": True, "sendErrorReport": True, "contactGuids": ["1C0193AB"]}
    database = {"type": "database", "updateExisting": True, "crushData": False}
    duplicate = {"type": "duplicate", "rules": {"first": True}}
    return [
        {"id": 23, "name": "Import Contacts", "creationDate": _date(account, rng), "binding": 44,
         "features": [report, database, duplicate,
                      {"type": "segmentation", "segmentId": 41, "emptyExisitingSegment": False},
                      {"type": "normalization", "fields": {"8110": ["FRA", "ESP"]}}],
         "source": {"type": "ftp", "creationDate": "0001-01-01T00:00:00Z", "folder": "23 - Import Contacts",
                    "templateFilename": "Import Contacts.csv"},
         "scheduler": {"id": 79}},
        {"id": 24, "name": "Import Redlist", "creationDate": _date(account, rng),
         "updateDate": _date(account, rng, 2), "binding": 45,
         "features": [report, database, duplicate, {"type": "redList", "destination": {"mail": True, "sms": False}}],
         "source": {"type": "ftp", "creationDate": "0001-01-01T00:00:00Z", "folder": "24 - Import Redlist"},
         "scheduler": {"type": "daily", "id": 80, "name": "Chaque nuit", "enabled": True}},
    ]  # fmt: skip


def _applications(account: Account) -> list[dict[str, Any]]:
    rng = _rng(account, "applications")

    def app(name: str, active: bool, providers: list[dict[str, Any]], **more: Any) -> dict[str, Any]:
        return {"type": "native", "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)), "name": name,
                "description": f"{name}, bac à sable", "active": active,
                "stamp": {"creation": _date(account, rng), "modification": _date(account, rng, 2)},
                "icon": None, "providers": providers, **more}  # fmt: skip

    secret = _secrets(account)
    return [
        app("my mobile app", True, [{"type": "firebase", "key": secret["firebase"], "sender": "np6.push"}],
            routes=[{"name": "defaultUrl", "value": {"type": "literal", "value": "app://push-app/home"},
                     "default": True}], channels=None),
        app("ios app", True, [{"type": "apns", "bundle": "fr.exemple.app",
                               "certificate": {"type": "p12", "value": secret["p12"],
                                               "password": secret["password"], "expiration": "2027-01-01T00:00:00Z"}}]),
        app("another mobile app", False, [{"type": "http", "url": "https://push.exemple.fr/hook"}]),
    ]  # fmt: skip


def _secrets(account: Account) -> dict[str, str]:
    rng = _rng(account, "secrets")
    return {"firebase": f"AAAA-sandbox-secret-{rng.getrandbits(64):016x}",
            "p12": f"MIIsandbox-secret-{rng.getrandbits(64):016x}",
            "password": f"sandbox-secret-{rng.getrandbits(32):08x}"}  # fmt: skip


def secret_values(account: Account) -> list[str]:
    """The provider secrets the account's mobile applications carry."""
    return list(_secrets(account).values())


def _stamp(account: Account, rng: random.Random) -> dict[str, str]:
    creation = _date(account, rng)
    return {"creation": creation, "modification": max(creation, _date(account, rng, 2))}


def _topics(account: Account) -> list[dict[str, Any]]:
    rng = _rng(account, "topics")
    return [
        {"id": str(uuid.UUID(int=rng.getrandbits(128), version=4)), "label": label, "description": label,
         "stamp": _stamp(account, rng), "createdBy": "Connected user", "modifiedBy": "Connected user"}
        for label in ("Black friday", "Singles Day", "Soldes d'été")
    ]  # fmt: skip


def _rules(account: Account) -> list[dict[str, Any]]:
    rng = _rng(account, "rules")
    topics = [t["id"] for t in _topics(account)]
    return [
        {"id": str(uuid.UUID(int=rng.getrandbits(128), version=4)), "label": label,
         "predicate": {"type": "and", "expressions": [{"type": "topic", "value": topic},
                                                      {"type": "capping", "count": count, "period": "P7D"}]},
         "stamp": _stamp(account, rng), "createdBy": "Connected user", "modifiedBy": "Connected user",
         "priority": index}  # `priority`: not in the docs
        for index, (label, topic, count) in enumerate((("3 par semaine", topics[0], 3),
                                                       ("1 par semaine", topics[1], 1)))
    ]  # fmt: skip


# --- routes -----------------------------------------------------------------------------------


class NotFound(LookupError):
    """An unknown id in a path: answered 404 with the message."""


class Call(NamedTuple):
    """What a route's answer gets: the account, the path's `{groups}`, the query parameters, the
    `Accept` header, the request body (POST) and the server's field renames (`id -> name`)."""

    account: Account
    groups: dict[str, str]
    params: Params
    accept: str | None = None
    body: bytes = b""
    renames: Mapping[int, str] = MappingProxyType({})


Answer = Callable[[Call], "list[Any] | dict[str, Any] | Reply"]


class ManagementRoute(NamedTuple):
    """One route: its name in stats, its path pattern, its media type (None: the answer
    negotiates and returns its own `Reply`), what it answers and its HTTP method."""

    name: str
    pattern: re.Pattern[str]
    media_type: str | None
    answer: Answer
    method: str = "GET"


def route(name: str, answer_: Answer, media_type: str | None = JSON_MEDIA_TYPE,
          method: str = "GET") -> ManagementRoute:  # fmt: skip
    """A route whose pattern is its name, each `{group}` matching one path segment."""
    pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", name)
    return ManagementRoute(name, re.compile(pattern), media_type, answer_, method)


def instant(params: Params, name: str) -> int | None:
    """Query parameter `name` as epoch ms (None when absent or empty); ValueError naming it."""
    value = params.get(name) or None
    try:
        return parse_ms(value) if value else None
    except (ValueError, OverflowError):
        raise ValueError(f"{name} must be an ISO date, an ISO datetime or epoch milliseconds, "
                         f"got {value!r}") from None  # fmt: skip


def _window(params: Params) -> tuple[int | None, int | None]:
    """`startDate` / `endDate` as epoch ms (None when absent or empty)."""
    return instant(params, "startDate"), instant(params, "endDate")


def ordered(items: list[Any], params: Params) -> list[Any]:
    """Items sorted by (timestamp, id) put in the order `sort` asks for: `asc`, `desc`, or (absent)
    a new shuffle on every request, like the event routes."""
    sort = params.get("sort")
    if sort not in (None, "asc", "desc"):
        raise ValueError(f"sort must be asc or desc, got {sort!r}")
    if sort == "desc":
        return items[::-1]
    if sort is None:
        items = list(items)
        random.Random(os.urandom(16)).shuffle(items)
    return items


def json_array(items: list[bytes]) -> Reply:
    """A 200 JSON array of already rendered items."""
    return Reply(200, b"[" + b",".join(items) + b"]")


def _list(name: str) -> Answer:
    return lambda call: dimension(call.account, name)


def _fields(call: Call) -> list[dict[str, Any]]:
    """`GET /fields`, with the names this server renamed (`SandboxServer.rename_field`)."""
    return [f | {"name": call.renames.get(f["id"], f["name"])} for f in dimension(call.account, "fields")]


def field_ids() -> frozenset[int]:
    """Ids of the catalogue's fields (what `rename_field` accepts)."""
    return frozenset(f["id"] for f in _field_list())


_STAMP = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

MANAGEMENT_ROUTES: tuple[ManagementRoute, ...] = (
    route("/actions/archives", lambda c: archives(c.account, *_window(c.params)), ARCHIVE_MEDIA_TYPE),
    route("/actions/stamp/{stamp}/archives", lambda c: archives(c.account, stamp=c.groups["stamp"]),
          ARCHIVE_MEDIA_TYPE),
    route("/actions/{id}/targets/{target}/archives",
          lambda c: archives(c.account, *_window(c.params), action_id=c.groups["id"], target_id=c.groups["target"]),
          ARCHIVE_MEDIA_TYPE),
    route("/targets/{target}/archives",
          lambda c: archives(c.account, *_window(c.params), target_id=c.groups["target"]), ARCHIVE_MEDIA_TYPE),
    route("/fields", _fields),
    route("/valueLists", _list("valueLists")),
    route("/segments", _list("segments")),
    route("/imports", _list("imports"), IMPORT_MEDIA_TYPE),
    route("/parameters/applications", _list("applications")),
    route("/marketing/pressure/topics", _list("topics")),
    route("/marketing/pressure/rules", _list("rules")),
)  # fmt: skip


def accepts(accept: str | None, media_type: str) -> bool:
    """Whether an `Accept` header (None: absent) allows `media_type` (parameters ignored)."""
    if not accept:
        return True
    media_type = media_type.split(";")[0].strip()
    major = media_type.split("/")[0]
    ranges = {part.split(";")[0].strip().lower() for part in accept.split(",")}
    return bool(ranges & {media_type, f"{major}/*", "*/*"})


def groups_of(route_: ManagementRoute, path: str) -> dict[str, str]:
    """The path's `{groups}` for `route_`, percent-decoded."""
    found = route_.pattern.fullmatch(path)
    return {k: unquote(v) for k, v in (found.groupdict() if found else {}).items()}


def answer(route_: ManagementRoute, call: Call, headers: list[tuple[str, str]]) -> Reply:
    """The reply to one authenticated request on a management route; `headers` (the fault
    knobs') go on every reply."""
    if route_.media_type and not accepts(call.accept, route_.media_type):
        return error_reply(406, f"this route answers {route_.media_type}, not {call.accept}", headers)
    if "stamp" in call.groups and not _STAMP.fullmatch(call.groups["stamp"]):
        return error_reply(404, f"unknown stamp {call.groups['stamp']!r}", headers)
    try:
        result = route_.answer(call)
    except NotFound as exc:
        return error_reply(404, str(exc), headers)
    except ValueError as exc:
        return error_reply(400, str(exc), headers)
    if isinstance(result, Reply):
        return Reply(result.status, result.body, (*headers, *result.headers), result.content_type)
    return Reply(200, orjson.dumps(result), tuple(headers), route_.media_type or JSON_MEDIA_TYPE)
