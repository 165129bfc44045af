"""A deterministic NP6 account: actions, contacts and hour-bucketed action events.

Everything derives from `AccountSpec.seed`. Events are generated one UTC hour (a "bucket") at a
time from `(seed, bucket index)`: a `[start, end)` query returns the same events whatever windows a
client cuts it into, and memory is one bucket at a time plus a byte-bounded cache of recent ones.

Shapes follow the NP6 API reference 8.1.0: the activation, bounce and cancellation examples of
`GET /actions/events...` and the complete hit payload of the mirror and form hit pages
(np6-api.md §3.1, seeds/004). Where the reference is silent the sandbox makes choices of its own,
listed here so nobody takes them for NP6 behaviour:

- Robot classification: the reference documents the hit filter `classification` (`genericrobot`,
  `mpp`, `gsr`) but not where a hit carries it. The sandbox assumes
  `source.detail.client.classification`, on about 10 % of opens and 3 % of redirections.
- `complaint` and `reply` are in NP6's event type enum without an example; here they are
  activation-based with a `complaint` / `reply` member, and only the mixed feed returns them.
- `share` hits (not a link type of 8.1.0) stand for a link type a client has never seen.
- Unknown extra fields: `source.detail.campaign` and a top-level `origin`, about 1 % of events each.
- One stamp id per (action, contact) pair, one thread per contact; `stamp.time` precedes the event
  (seconds for activations and cancellations, minutes to days for reactions).
- Every hour holds a burst of 20 to 35 events on one millisecond, on the hour's first millisecond in
  about a quarter of the hours (always in the first hour): an hour never has fewer than 20 events.
"""

from __future__ import annotations

import functools
import math
import random
import threading
from bisect import bisect_left
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from . import catalogue
from .catalogue import ActionInfo
from .render import Member, TargetView, event_dict, event_json
from .times import DAY_MS, HOUR_MS, parse_datetime, to_ms

EVENT_TYPES = ("activation", "hit", "bounce", "cancellation")
UNKNOWN_EVENT_TYPES = ("complaint", "reply")
HIT_TYPES = ("open", "redirection", "mirror", "form", "unsubscribe")
UNKNOWN_HIT_TYPE = catalogue.UNKNOWN_HIT_TYPE
CLASSIFICATIONS = ("genericrobot", "mpp", "gsr")


def _default_start() -> datetime:
    today = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=30)


@dataclass(frozen=True)
class AccountSpec:
    """What a sandbox account holds; the same spec always gives the same account.

    The event span is `[start, start + days)`; `start` is a UTC datetime (naive means UTC).
    """

    seed: int = 42
    actions: int = 20
    events_per_day: int = 5000
    start: datetime = field(default_factory=_default_start)
    days: int = 30
    api_key: str = "sandbox-key"

    def __post_init__(self) -> None:
        start = self.start if self.start.tzinfo else self.start.replace(tzinfo=timezone.utc)
        start = start.astimezone(timezone.utc)  # kept as a plain datetime, even from pendulum
        object.__setattr__(self, "start", datetime(*start.timetuple()[:6], start.microsecond, timezone.utc))
        if self.actions < 1 or self.days < 1 or self.events_per_day < 0:
            raise ValueError("an account needs actions >= 1, days >= 1 and events_per_day >= 0")
        if not self.api_key:
            raise ValueError("the API key cannot be empty")

    @classmethod
    def from_strings(cls, **values: str | int | None) -> AccountSpec:
        """A spec from command-line style values: `from_strings(start="2026-10-01", days="3")`.

        Integers may come as strings, `start` as anything `times.parse_datetime` reads (ISO date,
        ISO datetime, epoch ms); None keeps the default.
        """
        kwargs: dict[str, Any] = {}
        for name, value in values.items():
            if value is None:
                continue
            if name == "start":
                kwargs[name] = parse_datetime(str(value))
            elif name == "api_key":
                kwargs[name] = str(value)
            elif name in ("seed", "actions", "events_per_day", "days"):
                kwargs[name] = int(value)
            else:
                raise TypeError(f"unknown account setting {name!r}")
        return cls(**kwargs)

    @functools.cached_property
    def start_ms(self) -> int:
        return to_ms(self.start)

    @property
    def end_ms(self) -> int:
        return self.start_ms + self.days * DAY_MS

    @property
    def buckets(self) -> int:
        return self.days * 24


# --- buckets, filters and the cache -----------------------------------------------------------


class Bucket:
    """One generated hour: columns to filter on and, when rendered, the JSON of each event.

    Rows are sorted by (timestamp, id).
    """

    __slots__ = ("timestamps", "ids", "types", "actions", "hit_types", "classifications", "json",
                 "nbytes")  # fmt: skip

    def __init__(self, records: list[tuple], render: Callable[[tuple], bytes] | None) -> None:
        self.timestamps: list[int] = [r[0] for r in records]
        self.ids: list[bytes] = [r[1] for r in records]
        self.types: list[str] = [r[2] for r in records]
        self.actions: list[str] = [r[3].id for r in records]
        self.hit_types: list[str | None] = [r[4] for r in records]
        self.classifications: list[str | None] = [r[5] for r in records]
        self.json: list[bytes] = list(map(render, records)) if render else []
        self.nbytes = sum(map(len, self.json)) + 160 * len(records)  # + ids, columns, objects

    def select(self, start_ms: int, end_ms: int, flt: EventFilter) -> list[int]:
        """Row numbers with `start_ms <= timestamp < end_ms` that pass `flt`, in time order."""
        lo = bisect_left(self.timestamps, start_ms)
        hi = bisect_left(self.timestamps, end_ms, lo)
        return flt.rows(self, lo, hi)


def _frozen(values: str | Iterable[str] | None) -> frozenset[str] | None:
    if values is None:
        return None
    return frozenset([values]) if isinstance(values, str) else frozenset(values)


@dataclass(frozen=True)
class EventFilter:
    """Which events a route returns; None means no condition on that field.

    `hit_types` and `classification` only let through hits having one of the values;
    `humans_only` leaves out every hit with a robot classification.
    """

    types: frozenset[str] | None = None
    action_id: str | None = None
    hit_types: frozenset[str] | None = None
    classification: frozenset[str] | None = None
    humans_only: bool = False

    @classmethod
    def of(
        cls,
        types: str | Iterable[str] | None = None,
        action_id: str | None = None,
        hit_types: str | Iterable[str] | None = None,
        classification: str | Iterable[str] | None = None,
    ) -> EventFilter:
        """A filter from plain values (a single string counts as one value)."""
        return cls(_frozen(types), action_id, _frozen(hit_types), _frozen(classification))

    def rows(self, bucket: Bucket, lo: int, hi: int) -> list[int]:
        keep: Iterable[int] = range(lo, hi)
        for column, wanted in (
            (bucket.types, self.types),
            (bucket.hit_types, self.hit_types),
            (bucket.classifications, self.classification),
        ):
            if wanted is not None:
                keep = [i for i in keep if column[i] in wanted]
        if self.action_id is not None:
            actions, action_id = bucket.actions, self.action_id
            keep = [i for i in keep if actions[i] == action_id]
        if self.humans_only:
            classes = bucket.classifications
            keep = [i for i in keep if classes[i] is None]
        return list(keep)


class _BucketCache:
    """A byte-bounded LRU of rendered hours, shared by the server's threads.

    An hour that one thread is building is awaited by the others instead of being built twice.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[int, Bucket] = OrderedDict()
        self._bytes = 0
        self._building: dict[int, threading.Event] = {}
        self._lock = threading.Lock()

    def get(self, index: int, build: Callable[[int], Bucket]) -> Bucket:
        while True:
            with self._lock:
                bucket = self._items.get(index)
                if bucket is not None:
                    self._items.move_to_end(index)
                    return bucket
                done = self._building.get(index)
                if done is None:
                    done = self._building[index] = threading.Event()
                    break
            done.wait()  # then take it from the cache (or build it, if already evicted)
        try:
            bucket = build(index)
            with self._lock:
                self._store(index, bucket)
        finally:
            with self._lock:
                del self._building[index]
            done.set()
        return bucket

    def _store(self, index: int, bucket: Bucket) -> None:
        self._items[index] = bucket
        self._bytes += bucket.nbytes
        while self._bytes > self.max_bytes and len(self._items) > 1:
            _, evicted = self._items.popitem(last=False)
            self._bytes -= evicted.nbytes

    def indices(self) -> list[int]:
        with self._lock:
            return sorted(self._items)

    def capacity(self) -> int:
        """How many hours of the cached hours' average size fit (0 while nothing is cached)."""
        with self._lock:
            if not self._items:
                return 0
            return self.max_bytes * len(self._items) // max(1, self._bytes)


# --- generation tables ------------------------------------------------------------------------

# Hit link types by share of hits, in percent.
_HIT_TABLE = tuple(
    t for t, pct in (("open", 60), ("redirection", 25), ("mirror", 5), ("form", 4),
                     ("unsubscribe", 4), (UNKNOWN_HIT_TYPE, 2)) for _ in range(pct)
)  # fmt: skip
_EMAIL_ONLY_HITS = frozenset({"open", "mirror", "form"})
# Classifications of robot opens (Apple's proxy dominates) and robot clicks.
_OPEN_ROBOTS = ("mpp", "mpp", "mpp", "genericrobot", "gsr")
_CLICK_ROBOTS = ("genericrobot", "gsr")


def _order_ties(times: list[int], ids: list[bytes]) -> None:
    """Sort ids within runs of equal timestamps, so rows come in (timestamp, id) order."""
    for ts, count in Counter(times).items():
        if count > 1:
            lo = bisect_left(times, ts)
            ids[lo:lo + count] = sorted(ids[lo:lo + count])


# --- the account ------------------------------------------------------------------------------


class Account:
    """A deterministic NP6 account built from an `AccountSpec`.

    `bucket()` feeds the HTTP server; `events()`, `event_ids()`, `count()`, `actions()` and
    `action()` are the ground truth tests compare the API with.
    """

    def __init__(self, spec: AccountSpec | None = None, *, cache_mb: float = 64) -> None:
        self.spec = spec = spec or AccountSpec()
        rng = random.Random(f"np6-sandbox/{spec.seed}/catalogue")
        identity = {"type": "customer", "agency": "DEMO", "customer": f"{spec.seed % 1000:03d}"}
        self._contacts = catalogue.make_contacts(rng)
        self._humans = catalogue.human_clients(rng)
        self._robots = catalogue.robot_clients(rng)
        self._actions = catalogue.make_actions(rng, spec.actions, spec.start_ms, spec.days, identity)
        self._by_id = {a.id: a for a in self._actions}
        self._action_table = self._weighted_actions(rng)
        self._cache = _BucketCache(int(cache_mb * 2**20))

    def _weighted_actions(self, rng: random.Random) -> list[ActionInfo]:
        """About 1000 slots, each action in as many as its skewed weight; SMS actions weigh less
        (they have fewer reactions)."""
        weights = [rng.paretovariate(1.5) * (0.3 if a.channel == "sms" else 1) for a in self._actions]
        scale = 1000 / sum(weights)
        return [a for a, w in zip(self._actions, weights) for _ in range(max(1, round(w * scale)))]

    # -- actions --

    def actions(self, creation_start_ms: int | None = None, creation_end_ms: int | None = None) -> list[dict]:
        """`GET /actions` items created in `[creation_start, creation_end)` (None: unbounded)."""
        lo, hi = _bounds(creation_start_ms, creation_end_ms)
        return [_copy(a.item) for a in self._actions if lo <= a.created_ms < hi]

    def action(self, action_id: str) -> dict | None:
        """The `GET /actions/{id}` body, or None for an unknown id."""
        found = self._by_id.get(action_id)
        return _copy(found.detail) if found else None

    def action_ids(self) -> list[str]:
        return [a.id for a in self._actions]

    # -- events: the serving path --

    def bucket_range(self, start_ms: int | None = None, end_ms: int | None = None) -> range:
        """Indices of the hours overlapping `[start_ms, end_ms)`, clipped to the account span."""
        first, last = self.spec.start_ms, self.spec.buckets
        lo = 0 if start_ms is None else min(last, max(0, (start_ms - first) // HOUR_MS))
        hi = last if end_ms is None else min(last, max(0, -(-(end_ms - first) // HOUR_MS)))
        return range(lo, max(lo, hi))

    def bucket(self, index: int) -> Bucket:
        """Hour `index`, rendered, from the cache or freshly generated."""
        return self._cache.get(index, lambda i: Bucket(self.records(i), event_json))

    def cache_capacity(self) -> int:
        """About how many hours the cache holds (0 until one is cached)."""
        return self._cache.capacity()

    def cached_hours(self) -> list[int]:
        """Indices of the hours in the cache, for diagnostics and tests."""
        return self._cache.indices()

    # -- events: the ground truth --

    def events(
        self,
        start_ms: int | None = None,
        end_ms: int | None = None,
        *,
        types: str | Iterable[str] | None = None,
        action_id: str | None = None,
        hit_types: str | Iterable[str] | None = None,
        classification: str | Iterable[str] | None = None,
    ) -> list[dict]:
        """Events in `[start_ms, end_ms)` as dicts sorted by (timestamp, id), built from the same
        generated records as the served JSON but without the byte templates."""
        flt = EventFilter.of(types, action_id, hit_types, classification)
        lo, hi = _bounds(start_ms, end_ms)
        out = []
        for index in self.bucket_range(start_ms, end_ms):
            records = self.records(index)
            out.extend(event_dict(records[row]) for row in Bucket(records, None).select(lo, hi, flt))
        return out

    def event_ids(self, start_ms: int | None = None, end_ms: int | None = None, **filters: Any) -> set[str]:
        """Ids of the events `events()` would return (fast: no dicts). Filters as in `events()`."""
        return {bucket.ids[row].decode() for bucket, rows in self._selected(start_ms, end_ms, filters)
                for row in rows}  # fmt: skip

    def count(self, start_ms: int | None = None, end_ms: int | None = None, **filters: Any) -> int:
        """How many events `events()` would return (fast: no dicts). Filters as in `events()`."""
        return sum(len(rows) for _, rows in self._selected(start_ms, end_ms, filters))

    def _selected(self, start_ms: int | None, end_ms: int | None,
                  filters: dict[str, Any]) -> Iterator[tuple[Bucket, list[int]]]:  # fmt: skip
        flt = EventFilter.of(**filters)
        lo, hi = _bounds(start_ms, end_ms)
        for index in self.bucket_range(start_ms, end_ms):
            bucket = self.bucket(index)
            yield bucket, bucket.select(lo, hi, flt)

    # -- generation --

    def records(self, index: int) -> list[tuple]:
        """The events of hour `index` as `render.EventRecord`-shaped tuples, in (timestamp, id)
        order. They depend on nothing but the seed and the index."""
        rng = random.Random(f"np6-sandbox/{self.spec.seed}/hour/{index}")
        times = self._timestamps(rng, self.spec.start_ms + index * HOUR_MS)
        ids = catalogue.uuids(rng, len(times))
        _order_ties(times, ids)
        event = self._event
        return [event(rng, ts, eid) for ts, eid in zip(times, ids)]

    def _timestamps(self, rng: random.Random, start: int) -> list[int]:
        """Sorted event times of one hour: a burst on one millisecond, the rest uniform, the count
        following a day/night curve around events_per_day / 24 (peak 14:00 UTC, low 02:00)."""
        per_hour = self.spec.events_per_day / 24
        if per_hour <= 0:
            return []
        hour = (start // HOUR_MS) % 24
        mean = per_hour * (1 + 0.6 * math.sin(2 * math.pi * (hour - 8) / 24))
        burst = 20 + rng.randrange(16)
        n = max(burst, round(mean * (0.85 + 0.3 * rng.random())))
        on_boundary = rng.random() < 0.25 or start == self.spec.start_ms
        at = start if on_boundary else start + rng.randrange(1, HOUR_MS)
        rand = rng.random
        times = [at] * burst + [start + int(rand() * HOUR_MS) for _ in range(n - burst)]
        times.sort()
        return times

    def _event(self, rng: random.Random, ts: int, eid: bytes) -> tuple:
        """One event: pick the action, the contact, the type and the rare extra fields."""
        rand = rng.random
        table = self._action_table
        action = table[int(rand() * len(table))]
        target = self._contacts[int(rand() * catalogue.CONTACTS)]
        u, x = rand(), rand()
        extra = (action.campaign,) if x < 0.01 else ()
        top = (catalogue.ORIGINS[x < 0.015],) if 0.01 <= x < 0.02 else ()
        if u < 0.46:
            return (ts, eid, "activation", action, None, None, target, rand() < 0.04,
                    ts - 500 - int(rand() * 7500), extra, top, None)  # fmt: skip
        if u < 0.89:
            return self._hit(rng, ts, eid, action, target, extra, top)
        if u < 0.95:
            return self._reaction(rng, ts, eid, action, target, "bounce", catalogue.BOUNCES, extra, top)
        if u < 0.99:
            return self._cancellation(rng, ts, eid, action, target, extra, top)
        if u < 0.996:
            return self._reaction(rng, ts, eid, action, target, "complaint", catalogue.COMPLAINTS, extra, top)
        return self._reaction(rng, ts, eid, action, target, "reply", catalogue.REPLIES, extra, top)

    def _hit(self, rng: random.Random, ts: int, eid: bytes, action: ActionInfo, target: TargetView,
             extra: tuple[Member, ...], top: tuple[Member, ...]) -> tuple:  # fmt: skip
        rand = rng.random
        hit_type = _HIT_TABLE[int(rand() * 100)]
        if action.channel_index and hit_type in _EMAIL_ONLY_HITS:  # an SMS has links only
            hit_type = "redirection"
        links = action.links[hit_type]
        link = links[int(rand() * len(links))]
        classification, client = self._client(rng, hit_type)
        return (ts, eid, "hit", action, hit_type, classification, target, rand() < 0.03,
                ts - 60_000 - int(rand() * 3 * DAY_MS), (link, *client, *extra), top, None)  # fmt: skip

    def _client(self, rng: random.Random, hit_type: str) -> tuple[str | None, tuple[Member, ...]]:
        """(classification, client members) of a hit: robots on some opens and clicks, no client
        block at all on about 3 % of the others."""
        rand = rng.random
        r = rand()
        robots = _OPEN_ROBOTS if hit_type == "open" and r < 0.10 else ()
        robots = _CLICK_ROBOTS if hit_type == "redirection" and r < 0.03 else robots
        if robots:
            classification = robots[int(rand() * len(robots))]
            pool = self._robots[classification]
            return classification, (pool[int(rand() * len(pool))],)
        if r > 0.97:
            return None, ()
        humans = self._humans
        return None, (humans[int(rand() * len(humans))],)

    def _reaction(self, rng: random.Random, ts: int, eid: bytes, action: ActionInfo,
                  target: TargetView, etype: str, pool: tuple[Member, ...],
                  extra: tuple[Member, ...], top: tuple[Member, ...]) -> tuple:  # fmt: skip
        """An activation-based event with one member drawn from `pool` (bounce, complaint,
        reply); a third of them name the receiver by id, like the doc's bounce examples."""
        rand = rng.random
        return (ts, eid, etype, action, None, None, target, rand() < 0.3,
                ts - 2_000 - int(rand() * DAY_MS), (pool[int(rand() * len(pool))], *extra), top,
                None)  # fmt: skip

    def _cancellation(self, rng: random.Random, ts: int, eid: bytes, action: ActionInfo,
                      target: TargetView, extra: tuple[Member, ...],
                      top: tuple[Member, ...]) -> tuple:  # fmt: skip
        rand = rng.random
        data = catalogue.EXECUTION_DATA[int(rand() * len(catalogue.EXECUTION_DATA))]
        reason = catalogue.CANCELLATIONS[int(rand() * len(catalogue.CANCELLATIONS))]
        return (ts, eid, "cancellation", action, None, None, target, False,
                ts - 100 - int(rand() * 900), (reason, *extra), top, data)  # fmt: skip


def _bounds(start_ms: int | None, end_ms: int | None) -> tuple[int, int]:
    return (-(2**63) if start_ms is None else start_ms, 2**63 if end_ms is None else end_ms)


def _copy(obj: Any) -> Any:
    """A deep copy of a JSON-like value, so callers never alter the catalogue."""
    if isinstance(obj, dict):
        return {k: _copy(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_copy(v) for v in obj]
    return obj
