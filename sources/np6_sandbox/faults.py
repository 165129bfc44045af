"""Fault knobs of the sandbox: the ways NP6 can misbehave that a connector must survive.

`Faults` is the setting (all off by default; JSON-friendly, so `POST /_sandbox/faults` can replace
it at runtime). `FaultInjector` is its runtime state: counters, the rate window and a seeded random
generator. The server calls `FaultInjector.admit()` once per API request (actions and events
routes, after routing and authentication; never for `/_sandbox/*`) and either sends the `Reply` it
returns instead of the real answer, or sends the real answer with the extra headers it returns.

The steps run in order: latency, rate limit, fail-first, random errors. What NP6 documents about
rate limiting (np6-api.md §1.3): 429 over the limit, `X-RateLimit-Limit`, `-Remaining`, `-Reset`
headers that "may" be present, nothing about `Retry-After`. The sandbox sends `Retry-After` in
seconds and `X-RateLimit-Reset` in epoch seconds, and can leave out either to mimic a stingier API.

Adding a fault: a knob on `Faults` (off by default) and a step method that returns a `Reply` to
send instead (a timeout is a step that sleeps). Faults that spoil a good answer instead use the
event hooks the server calls with the requested window: `slow_window` (sleeps before a long window
is answered, so a client times out), `bad_events` (elements to append to the array: no `id`, no
`timestamp`, a timestamp in year 2999) and `spoil` (applied to a buffered answer before it is
written: truncated JSON, an HTML page with 200, a `text/plain` content type).
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import orjson

Headers = list[tuple[str, str]]
BAD_BODIES = ("truncated", "html", "content_type")
# Where a robot hit names its class: the reference does not say (np6-api.md §4.5), so the
# sandbox can play each reading. `none`: nowhere, only the `classification` filter tells.
CLASS_PLACES = ("client", "detail", "top", "none")
_CLASS_KEY = b'"classification":'

FUTURE_MS = 32_503_680_000_000  # 2999-12-31T00:00:00Z, far beyond any window
HTML_PAGE = (b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head>"
             b"<body><h1>502 Bad Gateway</h1><p>upstream error</p></body></html>")


@dataclass(frozen=True)
class Faults:
    """What goes wrong, and how often.

    Attributes:
        rate_limit: at most this many API requests per `rate_window_s` seconds, then 429.
        rate_window_s: length of the fixed rate window.
        rate_headers: send `X-RateLimit-Limit/Remaining/Reset` (on every response while a limit is set).
        retry_after: send `Retry-After` (seconds) with a 429.
        error_rate: probability that a request answers `error_status` (seeded by `seed`).
        error_status: the status of those random errors.
        fail_first: the first N requests answer 500, later ones are normal.
        latency_ms: sleep this long before answering each request.
        seed: seed of the random errors.
        bad_body: spoil event answers: `truncated` (cut in the middle), `html` (an HTML error
            page sent as JSON with 200) or `content_type` (the real JSON labelled `text/plain`).
        bad_body_first: spoil only the first N event answers (None: all of them).
        bad_events_ms: event answers whose window holds this instant (epoch ms) get four odd
            elements appended: one without `id`, one without `timestamp`, and a valid event
            `sandbox-future-<ms>` of a type (`complaint`) and with a field (`channelV2`) the
            docs never show, whose timestamp is in year 2999.
        slow_over_hours: event requests for windows longer than this many hours sleep `slow_s`
            before answering (0: every window).
        slow_s: how long those slow answers take.
        route_status: routes that answer a fixed status instead, e.g. `{"/targets/redlist/mail":
            404, "/actions/archives": 403}`, keyed by the route's name (its path template, like
            `/actions/{id}/export/tracking/opens`) or by the exact path: an account without a
            feature, or a key without the right to read it.
        robots_in_default_feed: event reads without `classification` return robot hits too
            (one reading of the reference); False leaves them out (the other reading), so only a
            read with the filter returns them.
        classification_at: where a robot hit carries its class: `client`
            (`source.detail.client.classification`, the generated shape), `detail`
            (`source.detail.classification`), `top` (the event root) or `none` (nowhere).
        robot_filter_status: answer this status (403 or 404) to any hit read that carries the
            `classification` filter (None: serve it).
    """

    rate_limit: int | None = None
    rate_window_s: float = 1.0
    rate_headers: bool = True
    retry_after: bool = True
    error_rate: float = 0.0
    error_status: int = 503
    fail_first: int = 0
    latency_ms: float = 0.0
    seed: int = 0
    bad_body: str | None = None
    bad_body_first: int | None = None
    bad_events_ms: int | None = None
    slow_over_hours: float | None = None
    slow_s: float = 0.0
    route_status: dict[str, int] = field(default_factory=dict)
    robots_in_default_feed: bool = True
    classification_at: str = "client"
    robot_filter_status: int | None = None

    def __post_init__(self) -> None:
        if self.rate_limit is not None and self.rate_limit < 1:
            raise ValueError("rate_limit must be at least 1 (or None for no limit)")
        if self.rate_window_s <= 0:
            raise ValueError("rate_window_s must be positive")
        if not 0.0 <= self.error_rate <= 1.0:
            raise ValueError("error_rate must be between 0 and 1")
        if not 400 <= self.error_status <= 599:
            raise ValueError("error_status must be a 4xx or 5xx status")
        if self.fail_first < 0 or self.latency_ms < 0:
            raise ValueError("fail_first and latency_ms cannot be negative")
        if self.bad_body not in (None, *BAD_BODIES):
            raise ValueError(f"bad_body must be one of {', '.join(BAD_BODIES)}")
        if self.slow_s < 0 or (self.slow_over_hours or 0) < 0:
            raise ValueError("slow_s and slow_over_hours cannot be negative")
        if any(not 400 <= int(status) <= 599 for status in self.route_status.values()):
            raise ValueError("route_status statuses must be 4xx or 5xx")
        if self.classification_at not in CLASS_PLACES:
            raise ValueError(f"classification_at must be one of {', '.join(CLASS_PLACES)}")
        if self.robot_filter_status not in (None, 403, 404):
            raise ValueError("robot_filter_status must be 403, 404 or None")

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Faults:
        """Faults from a JSON object; unknown keys are an error (a typo must not pass silently)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown fault knob(s): {', '.join(unknown)}; "
                             f"known: {', '.join(sorted(known))}")
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Reply:
    """A complete answer: status, extra headers and a JSON body."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()
    content_type: str = "application/json"


def error_reply(status: int, message: str, headers: Headers | None = None, **extra: Any) -> Reply:
    """A small JSON error body, `{"message": ...}` plus any extra fields."""
    return Reply(status, orjson.dumps({"message": message, **extra}), tuple(headers or ()))


class FaultInjector:
    """The runtime state of one `Faults` setting; safe to share between the server's threads."""

    def __init__(
        self,
        faults: Faults | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.faults = faults or Faults()
        self._clock, self._wall_clock, self._sleep = clock, wall_clock, sleep
        self._lock = threading.Lock()
        self._rng = random.Random(self.faults.seed)
        self._admitted = 0
        self._window_start = -math.inf
        self._window_count = 0
        self._spoiled = 0

    def route_reply(self, route: str, path: str) -> Reply | None:
        """The fixed answer of a route set in `route_status` (by name or exact path), or None."""
        status = self.faults.route_status.get(route) or self.faults.route_status.get(path)
        return None if status is None else error_reply(int(status), f"route_status {status} on {path}")

    def admit(self) -> tuple[Reply | None, Headers]:
        """Decide the fate of one request: (a reply to send instead, or None; headers to add)."""
        if self.faults.latency_ms:
            self._sleep(self.faults.latency_ms / 1000)
        headers: Headers = []
        with self._lock:
            for step in (self._rate_limit, self._fail_first, self._random_error):
                reply = step(headers)
                if reply is not None:
                    return reply, headers
        return None, headers

    def _rate_limit(self, headers: Headers) -> Reply | None:
        """A fixed window opened by the first request after the previous one closed."""
        f = self.faults
        if f.rate_limit is None:
            return None
        now = self._clock()
        if now >= self._window_start + f.rate_window_s:
            self._window_start, self._window_count = now, 0
        left = self._window_start + f.rate_window_s - now
        over = self._window_count >= f.rate_limit
        if not over:
            self._window_count += 1
        if f.rate_headers:
            headers += [
                ("X-RateLimit-Limit", str(f.rate_limit)),
                ("X-RateLimit-Remaining", str(f.rate_limit - self._window_count)),
                ("X-RateLimit-Reset", str(math.ceil(self._wall_clock() + left))),
            ]
        if not over:
            return None
        if f.retry_after:
            headers.append(("Retry-After", str(max(1, math.ceil(left)))))
        return error_reply(429, "rate limit exceeded")

    def _fail_first(self, headers: Headers) -> Reply | None:
        self._admitted += 1
        if self._admitted <= self.faults.fail_first:
            return error_reply(500, "injected failure (fail_first)")
        return None

    def _random_error(self, headers: Headers) -> Reply | None:
        if self.faults.error_rate and self._rng.random() < self.faults.error_rate:
            return error_reply(self.faults.error_status, "injected failure (error_rate)")
        return None

    # --- event hooks: called with the requested window, spoil good answers ------------------

    def slow_window(self, start_ms: int | None, end_ms: int | None) -> None:
        """Sleep `slow_s` when the window is longer than `slow_over_hours` (or unbounded)."""
        over = self.faults.slow_over_hours
        if over is None or not self.faults.slow_s:
            return
        if start_ms is None or end_ms is None or end_ms - start_ms > over * 3_600_000:
            self._sleep(self.faults.slow_s)

    def bad_events(self, start_ms: int | None, end_ms: int | None) -> list[bytes]:
        """The bad elements to append to an event answer whose window holds `bad_events_ms`."""
        at = self.faults.bad_events_ms
        if at is None or (start_ms is not None and at < start_ms) or (end_ms is not None and at >= end_ms):
            return []
        return [orjson.dumps(item) for item in bad_event_items(at)]

    def robot_filter(self) -> Reply | None:
        """What a hit read with the `classification` filter gets instead (None: the real answer)."""
        status = self.faults.robot_filter_status
        return None if status is None else error_reply(status, "injected refusal of the robot filter")

    def place_class(self, item: bytes) -> bytes:
        """A robot hit's JSON with its class moved where `classification_at` says."""
        place = self.faults.classification_at
        if place == "client" or _CLASS_KEY not in item:
            return item
        event = orjson.loads(item)
        detail = event["source"]["detail"]
        found = detail["client"].pop("classification")
        if place == "detail":
            detail["classification"] = found
        elif place == "top":
            event["classification"] = found
        return orjson.dumps(event)

    def spoil(self, reply: Reply) -> Reply:
        """The answer as `bad_body` spoils it (the first `bad_body_first` answers, or all)."""
        kind = self.faults.bad_body
        if kind is None:
            return reply
        with self._lock:
            self._spoiled += 1
            if self.faults.bad_body_first is not None and self._spoiled > self.faults.bad_body_first:
                return reply
        if kind == "truncated":
            return Reply(reply.status, reply.body[: max(1, len(reply.body) // 2)], reply.headers)
        if kind == "html":
            return Reply(reply.status, HTML_PAGE, reply.headers)
        return Reply(reply.status, reply.body, reply.headers, content_type="text/plain; charset=utf-8")


def bad_event_items(at_ms: int) -> list[dict[str, Any]]:
    """What `bad_events_ms` appends: two elements that cannot be keyed, one from year 2999, and
    an execution whose `kind` is a number where the reference documents a string."""
    identity = {"agency": "SANDBOX", "customer": "1", "type": "target"}
    return [
        {"type": "activation", "timestamp": at_ms, "identity": identity},
        {"type": "activation", "id": f"sandbox-no-timestamp-{at_ms}", "identity": identity},
        {"type": "complaint", "id": f"sandbox-future-{at_ms}", "timestamp": FUTURE_MS, "identity": identity,
         "channelV2": "rcs"},
        {"type": "execution", "id": f"sandbox-type-change-{at_ms}", "timestamp": at_ms, "identity": identity,
         "source": {"type": "email", "detail": {"execution": {"id": "000PE4", "kind": 7}}}},
    ]
