"""The only module that talks HTTP to NP6: `X-Key` auth, timeouts, retries, rate budget, errors.

Every GET follows one policy, decided in `NP6Client._judge` (and `_transport_retry` when no
answer came)::

    wait at the shared gate ─► take 1 of `concurrency` slots ─► send
      │
      ├─ 2xx, body usable ─────────────────────────────────────────► return (body, Fetched)
      ├─ 401 / 403 ────────────────────────────────────────────────► NP6AuthError (at once)
      ├─ 404 ──────────────────────────────────────────────────────► NP6NotFound
      ├─ 3xx, other 4xx ───────────────────────────────────────────► NP6HTTPError
      ├─ 429 ─► close the gate for EVERY thread for
      │         Retry-After | X-RateLimit-Reset | backoff   (each wait <= max_wait);
      │         429 pauses over the client's life > max_total_wait ──► NP6RateLimited
      ├─ 5xx, timeout, dropped connection, 2xx whose body is not JSON or is `text/*`
      │     ─► this thread sleeps Retry-After (<= max_wait) if a 5xx sends one, else
      │        uniform(0, min(backoff_max, backoff_base * 2**n))   (full jitter)
      └─ retried until `max_attempts` requests were made, then by the last failure:
            429 ─► NP6RateLimited   not JSON ─► NP6BadResponse   5xx/timeout ─► NP6ServerError
            no connection could be opened on any attempt ─► NP6Unreachable
      (a call made with `split_on_timeout` gives up at its first timeout with `NP6Timeout`,
       so the caller can read the window in halves instead of waiting for it again)

The gate is one shared "not before" instant. Besides 429s, any response whose
`X-RateLimit-Remaining` is below `concurrency` closes it until `X-RateLimit-Reset`, so the
client slows down before NP6 has to say 429. NP6 documents only that these headers "may" be
sent, not the unit of Reset (https://documentation.np6.com/api/referencegood-to-know, "Rate
Limiting"): above 10^12 it is read as epoch ms, above 10^9 as epoch seconds, else as seconds.

Messages are one line naming status, method, path and window; the key travels only in the
`X-Key` header and is redacted from anything a server echoes back.
"""

from __future__ import annotations

import email.utils
import logging
import math
import random
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from importlib import metadata
from typing import Any, TypeVar

import httpx
import orjson

from .errors import (
    NP6AuthError,
    NP6BadResponse,
    NP6ConfigError,
    NP6DeadlineReached,
    NP6HTTPError,
    NP6NotFound,
    NP6RateLimited,
    NP6ServerError,
    NP6Timeout,
    NP6Unreachable,
    redact,
)

log = logging.getLogger("np6.client")

# Archive lists answer `application/vnd.np6.cm.mail.archive` and imports
# `application/vnd.mperf.v8.import.v1+json` (np6-api.md §1.7); both bodies are JSON.
ACCEPT = "application/json, application/vnd.np6.cm.mail.archive, application/vnd.mperf.v8.import.v1+json"



ErrorT = TypeVar("ErrorT", bound=NP6HTTPError)
Decoder = Callable[[bytes], Any]

_EXCERPT_CHARS = 80
_CONNECT_TIMEOUT = 10.0


def _version() -> str:
    """The installed connector version, or `dev` when running from a checkout."""
    try:
        return metadata.version("np6-connector")
    except metadata.PackageNotFoundError:
        return "dev"


DEFAULT_USER_AGENT = f"np6-dlt-connector/{_version()} (dlt source for NP6 CM) httpx/{httpx.__version__}"


@dataclass(frozen=True)
class Fetched:
    """A successful GET: the raw body and what it took to get it."""

    body: bytes
    status: int
    content_type: str
    requests: int  # attempts made, the successful one included
    retries: int  # requests - 1
    waited: float  # seconds this call slept for backoff or rate limits
    seconds: float  # elapsed time of the call, waits included


@dataclass(frozen=True)
class Streamed:
    """A 2xx GET whose body is read as it arrives: iterate `chunks` (bytes) inside `stream`."""

    path: str
    status: int
    content_type: str
    requests: int  # attempts made to get the status line, the successful one included
    retries: int
    waited: float
    chunks: Iterator[bytes]
    elapsed: Callable[[], float]  # seconds since the call started, waits included

    def fetched(self) -> Fetched:
        """What the call took, as `get` reports it (`body` empty: it was consumed as it came)."""
        return Fetched(b"", self.status, self.content_type, self.requests, self.retries, self.waited, self.elapsed())


@dataclass
class _Call:
    """The running tally of one `get`: what is fetched and what it cost so far."""

    path: str
    context: str
    started: float
    requests: int = 0
    waited: float = 0.0
    connect_failures: int = 0
    split_on_timeout: bool = False
    body: bytes | None = None  # a JSON body: the call is a POST (a read, see `post_json`)

    @property
    def where(self) -> str:
        """`GET /actions/events [2026-10-01T00:00:00Z, 2026-10-02T00:00:00Z)` for messages."""
        method = "GET" if self.body is None else "POST"
        if not self.context:
            return f"{method} {self.path}"
        context = self.context if self.context.startswith("[") else f"({self.context})"
        return f"{method} {self.path} {context}"


class _Retry(Exception):
    """Internal: an attempt failed in a way another attempt may fix.

    `kind` is `rate` (429), `server` (5xx, timeout, dropped connection), `connect` (no
    connection opened) or `body` (2xx that is not JSON). `label` is short, for the log;
    `problem` and `detail` make the message if no attempt is left. `wait` is what the server
    asked for, None to back off.
    """

    def __init__(self, kind: str, label: str, problem: str, *, detail: str = "",
                 status: int | None = None, wait: float | None = None, why: str = "backoff") -> None:
        super().__init__(label)
        self.kind, self.label, self.problem, self.detail = kind, label, problem, detail
        self.status, self.wait, self.why = status, wait, why


class _Gate:
    """One "not before" instant shared by all threads: while it is ahead, nobody sends."""

    def __init__(self, clock: Callable[[], float], sleep: Callable[[float], None]) -> None:
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()
        self._not_before = -math.inf
        self.counted = 0.0  # seconds of pause charged to the 429 budget so far

    def hold(self, seconds: float, *, budget: float | None = None) -> float | None:
        """Close the gate for `seconds` from now; return how much later it now opens.

        With a `budget`, the extension is charged to `counted` and refused (None, gate
        unchanged) if that would take `counted` over the budget.
        """
        with self._lock:
            now = self._clock()
            target = now + seconds
            extension = max(0.0, target - max(self._not_before, now))
            if budget is not None:
                if self.counted + extension > budget:
                    return None
                self.counted += extension
            self._not_before = max(self._not_before, target)
            return extension

    def pass_through(self) -> float:
        """Wait until the gate is open; return the seconds slept.

        Re-checks after sleeping in case another thread moved the instant later, but stops once
        it has slept for the instant it saw (so an injected clock that sleep does not move
        cannot trap it).
        """
        slept = 0.0
        while True:
            with self._lock:
                target = self._not_before
                delay = target - self._clock()
            if delay <= 0:
                return slept
            self._sleep(delay)
            slept += delay
            with self._lock:
                if self._not_before == target:
                    return slept


class NP6Client:
    """A thread-safe NP6 API client: GETs with retries, a shared rate budget and one error policy.

    Use one client per run and share it between worker threads; close it (or use `with`).

    Args:
        base_url: API root, e.g. `https://api-cm.np6.com`; a path prefix is kept.
        api_key: the NP6 key, sent as `X-Key` (surrounding whitespace is dropped).
        timeout: seconds to wait for an answer (connecting waits at most 10 s of it).
        max_attempts: requests per call before giving up (first one included).
        backoff_base: first backoff ceiling in seconds; doubles with every attempt.
        backoff_max: ceiling of any single backoff.
        max_wait: ceiling of any single rate-limit wait, whatever the headers say.
        max_total_wait: ceiling of all 429 pauses over the client's life.
        concurrency: requests in flight at once, across threads.
        transport: an httpx transport instead of the network (tests: `httpx.MockTransport`).
        user_agent: the `User-Agent` header.
        sleep: how to wait (tests inject a recorder).
        clock: monotonic seconds, for the gate and call durations.
        wall_clock: epoch seconds, for epoch-valued headers when the response has no `Date`.
        rand: uniform [0, 1) source for backoff jitter.
        deadline: a `clock` instant after which no request is sent (`NP6DeadlineReached`);
            requests and waits are shortened so that none runs past it. None: no deadline.

    Raises:
        NP6ConfigError: malformed `base_url`, missing key or out-of-range settings.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 60.0,
        max_attempts: int = 6,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
        max_wait: float = 300.0,
        max_total_wait: float = 1800.0,
        concurrency: int = 4,
        transport: httpx.BaseTransport | None = None,
        user_agent: str = DEFAULT_USER_AGENT,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        rand: Callable[[], float] = random.random,
        deadline: float | None = None,
    ) -> None:
        self._api_key = _check_api_key(api_key)
        self._url = _check_base_url(base_url, self._api_key)
        _check_settings(timeout=timeout, max_attempts=max_attempts, backoff_base=backoff_base,
                        backoff_max=backoff_max, max_wait=max_wait, max_total_wait=max_total_wait,
                        concurrency=concurrency)
        self.timeout, self.max_attempts = float(timeout), int(max_attempts)
        self.concurrency = int(concurrency)
        self.backoff_base, self.backoff_max = float(backoff_base), float(backoff_max)
        self.max_wait, self.max_total_wait = float(max_wait), float(max_total_wait)
        self._sleep, self._clock, self._wall_clock, self._rand = sleep, clock, wall_clock, rand
        self.deadline = deadline
        self._slots = threading.Semaphore(self.concurrency)
        self._gate = _Gate(clock, sleep)
        self._lock = threading.Lock()
        self._answered = False  # set once any HTTP answer arrived; see _prepare_retry
        self._stats = {"requests": 0, "retries": 0, "rate_limited_waits": 0,
                       "waited_seconds": 0.0, "rate_limited_seconds": 0.0}
        self._http = self._open(transport, user_agent)

    def _open(self, transport: httpx.BaseTransport | None, user_agent: str) -> httpx.Client:
        """The one httpx client: auth header, timeouts, and a pool sized to `concurrency`."""
        return httpx.Client(
            base_url=self._url,
            headers={"X-Key": self._api_key, "Accept": ACCEPT, "User-Agent": user_agent},
            timeout=httpx.Timeout(self.timeout, connect=min(self.timeout, _CONNECT_TIMEOUT)),
            limits=httpx.Limits(max_connections=self.concurrency,
                                max_keepalive_connections=self.concurrency),
            transport=transport,
            follow_redirects=False,
        )

    # --- public API -------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The API root requests go to (without credentials)."""
        return self.origin + self._url.path.rstrip("/")

    @property
    def origin(self) -> str:
        """`scheme://host[:port]` of the API, as named in messages."""
        return f"{self._url.scheme}://{self._url.netloc.decode('ascii')}"

    @property
    def stats(self) -> dict[str, float]:
        """Running totals: requests, retries, rate_limited_waits, waited_seconds, rate_limited_seconds."""
        with self._lock:
            return dict(self._stats)

    def get(self, path: str, params: Mapping[str, Any] | None = None, *, context: str = "",
            split_on_timeout: bool = False) -> Fetched:
        """GET `path` under the base URL and return the raw 2xx body, retrying as the policy says.

        Args:
            path: e.g. `/actions/events`; never a full URL (the key only goes to `base_url`).
            params: query parameters.
            context: a short label for messages, usually the window `[start, end)`.
            split_on_timeout: raise `NP6Timeout` at the first timeout instead of retrying (the
                caller will ask for a smaller window).

        Raises:
            NP6HTTPError: one of its subclasses, see the module docstring.
        """
        _, fetched = self._call(path, params, context, None, split_on_timeout)
        return fetched

    def get_json(
        self, path: str, params: Mapping[str, Any] | None = None, *, context: str = ""
    ) -> tuple[Any, Fetched]:
        """Like `get`, and parse the body as JSON (a 204 gives None).

        A 2xx whose body is not JSON (an HTML error page, a cut-off array) is retried like a 5xx,
        then raised as `NP6BadResponse`.
        """
        return self._call(path, params, context, orjson.loads)

    @contextmanager
    def stream(
        self, path: str, params: Mapping[str, Any] | None = None, *, context: str = "",
        accept: str | None = None, split_on_timeout: bool = False,
    ) -> Iterator[Streamed]:
        """GET `path` and hand over the 2xx body as it arrives, for bodies too large to hold.

        The status line follows the policy of `get` (auth, rate gate, retries of 429/5xx/no
        answer); the body is never judged or retried: once it has started, rows may already have
        been passed on, so a failure while reading it raises `NP6BadResponse` naming the path.
        The request keeps its concurrency slot until the `with` block ends.

        Args:
            path: e.g. `/actions/000PE4/export/tracking/opens`.
            params: query parameters.
            context: a short label for messages.
            accept: an `Accept` header instead of the client's JSON one (e.g. to allow CSV).
            split_on_timeout: as for `get`, for the wait for the status line.

        Raises:
            NP6HTTPError: one of its subclasses, see the module docstring.
        """
        call = _Call(_check_path(path), _one_line(str(context)), self._clock(), split_on_timeout=split_on_timeout)
        headers = {"Accept": accept} if accept else None
        while True:
            with ExitStack() as held:
                try:
                    response = self._open_stream(call, params, headers, held)
                except _Retry as failure:
                    retry = failure
                else:
                    yield Streamed(call.path, response.status_code, response.headers.get("content-type", ""),
                                   call.requests, call.requests - 1, call.waited,
                                   self._body_chunks(call, response), lambda: self._clock() - call.started)
                    return
            self._prepare_retry(call, retry)  # raises when no attempt is left

    def post_json(
        self, path: str, params: Mapping[str, Any] | None, body: Mapping[str, Any], *, context: str = ""
    ) -> tuple[Any, Fetched]:
        """POST a JSON `body` and parse the answer as JSON, with `get_json`'s whole error policy.

        NP6 uses POST for some reads whose selection does not fit a query string (campaign events,
        np6-api.md §3.4): they change nothing, so retrying them on 5xx, 429 or a timeout is safe.
        """
        return self._call(path, params, context, orjson.loads, body=orjson.dumps(body))

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> NP6Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"NP6Client({self.base_url!r}, concurrency={self.concurrency})"

    # --- one call ---------------------------------------------------------------------------

    def _call(
        self, path: str, params: Mapping[str, Any] | None, context: str, decode: Decoder | None,
        split_on_timeout: bool = False, body: bytes | None = None,
    ) -> tuple[Any, Fetched]:
        """Attempt until success or an NP6 error; retries are prepared outside the `except`."""
        call = _Call(_check_path(path), _one_line(str(context)), self._clock(),
                     split_on_timeout=split_on_timeout, body=body)
        while True:
            try:
                return self._attempt(call, params, decode)
            except _Retry as failure:
                retry = failure
            self._prepare_retry(call, retry)  # raises when no attempt is left

    def _attempt(
        self, call: _Call, params: Mapping[str, Any] | None, decode: Decoder | None
    ) -> tuple[Any, Fetched]:
        """One request: wait at the gate, send within a slot, judge the outcome."""
        with self._slots:
            self._waited(call, self._gate.pass_through())
            self._before_deadline(call)
            call.requests += 1
            self._count("requests")
            response = self._send(call, params)
        return self._judge(call, response, decode), self._fetched(call, response)

    def _send(self, call: _Call, params: Mapping[str, Any] | None) -> httpx.Response:
        """The HTTP exchange; no answer at all (no connection, timeout, drop) is a `_Retry`."""
        try:
            if call.body is None:
                response = self._http.get(call.path, params=params, timeout=self._timeout())
            else:
                response = self._http.post(call.path, params=params, content=call.body,
                                           headers={"Content-Type": "application/json"},
                                           timeout=self._timeout())
        except httpx.RequestError as exc:
            raise self._transport_retry(exc) from None
        self._answered = True
        log.debug("%s -> %d (%d bytes)", call.where, response.status_code, len(response.content))
        return response

    def _open_stream(self, call: _Call, params: Mapping[str, Any] | None,
                     headers: Mapping[str, str] | None, held: ExitStack) -> httpx.Response:
        """One streamed request up to its status line; `held` keeps the slot and the response.

        A 2xx is returned unread; any other status has its (small) body read and is judged like
        a `get` answer, which raises for every non-2xx.
        """
        held.enter_context(self._slots)
        self._waited(call, self._gate.pass_through())
        self._before_deadline(call)
        call.requests += 1
        self._count("requests")
        try:
            request = self._http.build_request("GET", call.path, params=params, headers=headers,
                                               timeout=self._timeout())
            response = self._http.send(request, stream=True)
            held.callback(response.close)
            if not 200 <= response.status_code < 300:
                response.read()
        except httpx.RequestError as exc:
            raise self._transport_retry(exc) from None
        self._answered = True
        log.debug("%s -> %d (streamed)", call.where, response.status_code)
        if 200 <= response.status_code < 300:
            self._observe_budget(call, response)
            return response
        self._judge(call, response, None)
        raise AssertionError(f"unjudged status {response.status_code}")  # _judge raises for non-2xx

    def _body_chunks(self, call: _Call, response: httpx.Response) -> Iterator[bytes]:
        """The body's byte chunks as they arrive; a broken body is `NP6BadResponse`, not retried."""
        received = 0
        try:
            for chunk in response.iter_bytes():
                received += len(chunk)
                yield chunk
        except (httpx.RequestError, httpx.StreamError) as exc:
            raise self._error(NP6BadResponse, (
                f"the body of {call.where} broke off after {received} bytes ({type(exc).__name__}); "
                "not retried: part of it was already used"), None, call, status=response.status_code) from None

    def _judge(self, call: _Call, response: httpx.Response, decode: Decoder | None) -> Any:
        """The error policy for an answer: return the decoded body, raise `_Retry` or an NP6 error."""
        status = response.status_code
        if status != 429:
            self._observe_budget(call, response)
        if status in (401, 403):
            raise self._error(NP6AuthError, _AUTH_MESSAGES[status].format(where=call.where), response, call)
        if status == 404:
            raise self._error(NP6NotFound, f"NP6 answered {_status(status)} on {call.where}: the resource "
                              "does not exist or an identifier in the path is unknown", response, call)
        if status == 429 or status >= 500:
            raise self._status_retry(response)
        if not 200 <= status < 300:
            raise self._error(NP6HTTPError, self._client_error_message(call, response), response, call)
        if response.headers.get("content-type", "").lower().startswith("text/"):
            raise self._body_retry(response, "is not JSON")  # an HTML error page from a proxy
        return self._decode(response, decode)

    def _status_retry(self, response: httpx.Response) -> _Retry:
        """The retry for a 429 (which may wait for the rate-limit reset) or a 5xx."""
        status = response.status_code
        limited = status == 429
        wait, why = self._asked_wait(response, with_reset=limited)
        problem = f"NP6 kept answering {_status(status)}" if limited else f"NP6 answered {_status(status)}"
        return _Retry("rate" if limited else "server", str(status), problem, status=status,
                      detail=self._request_id(response), wait=wait, why=why)

    def _decode(self, response: httpx.Response, decode: Decoder | None) -> Any:
        """The parsed body; a body that does not parse is a retryable failure."""
        if decode is None or response.status_code == 204:
            return None
        try:
            return decode(response.content)
        except ValueError:
            raise self._body_retry(response) from None

    def _body_retry(self, response: httpx.Response, what: str = "is not JSON") -> _Retry:
        """The retry for a success status whose body is not JSON (an HTML page, a cut-off array)."""
        status = response.status_code
        content_type = response.headers.get("content-type") or "none"
        detail = f" (content-type {content_type}; body {self._excerpt(response.content)!r})"
        return _Retry("body", f"{status} with a body that {what}",
                      f"NP6 answered {_status(status)} with a body that {what}",
                      status=status, detail=detail + self._request_id(response))

    def _transport_retry(self, exc: httpx.RequestError) -> _Retry:
        """The retry for a request that got no answer: no connection, a timeout, a dropped one."""
        if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
            reason = _connect_reason(exc)
            return _Retry("connect", reason, f"cannot connect to NP6 at {self.origin} ({reason})")
        if isinstance(exc, httpx.TimeoutException):
            label = f"no answer within {self.timeout:g} s ({type(exc).__name__})"
            return _Retry("timeout", label, label)
        label = f"connection failed ({type(exc).__name__}: {self._excerpt(str(exc).encode())})"
        return _Retry("server", label, label)

    def _fetched(self, call: _Call, response: httpx.Response) -> Fetched:
        """The success record of `call`."""
        return Fetched(
            body=response.content,
            status=response.status_code,
            content_type=response.headers.get("content-type", ""),
            requests=call.requests,
            retries=call.requests - 1,
            waited=call.waited,
            seconds=self._clock() - call.started,
        )

    # --- retries ----------------------------------------------------------------------------

    def _prepare_retry(self, call: _Call, retry: _Retry) -> None:
        """Wait as the failure requires before the next attempt, or raise if none is left."""
        if self._left() <= 0:  # an answer cut short by the deadline is not retried
            raise NP6DeadlineReached(f"the run's deadline passed during {call.where} ({retry.label})")
        if retry.kind == "connect":
            call.connect_failures += 1
        # A host that never answered this client is a setting to fix (base URL, network), not a
        # blip to wait out: say so at once instead of backing off for half a minute.
        if call.requests >= self.max_attempts or (retry.kind == "connect" and not self._answered):
            raise self._give_up(call, retry)
        if retry.kind == "timeout" and call.split_on_timeout:
            raise self._error(NP6Timeout, f"{retry.problem} on {call.where}", None, call)
        if retry.kind == "rate":
            wait, why = self._pause_everyone(call, retry)
        else:
            wait, why = self._capped(retry.wait, retry.why, call)
        log.warning("%s on %s: waiting %.1f s (%s), attempt %d/%d",
                    self._redact(retry.label), call.where, wait, why, call.requests + 1, self.max_attempts)
        self._count("retries")
        if retry.kind != "rate":
            self._sleep(min(wait, max(0.0, self._left())))
            self._waited(call, wait)

    # --- deadline ---------------------------------------------------------------------------

    def _left(self) -> float:
        """Seconds until the deadline (infinite without one)."""
        return math.inf if self.deadline is None else self.deadline - self._clock()

    def _before_deadline(self, call: _Call) -> None:
        """Refuse to send once the deadline has passed."""
        if self._left() <= 0:
            raise NP6DeadlineReached(f"the run's deadline passed before {call.where} was sent")

    def _timeout(self) -> httpx.Timeout:
        """The request timeout, shortened so that no answer is awaited past the deadline."""
        total = max(0.001, min(self.timeout, self._left()))
        return httpx.Timeout(total, connect=min(total, _CONNECT_TIMEOUT))

    def _pause_everyone(self, call: _Call, retry: _Retry) -> tuple[float, str]:
        """Close the shared gate after a 429, within the client's total 429 budget."""
        wait, why = self._capped(retry.wait, retry.why, call)
        extension = self._gate.hold(wait, budget=self.max_total_wait)
        if extension is None:
            raise self._error(NP6RateLimited, (
                f"NP6 kept answering {_status(429)} on {call.where}: rate-limit pauses already "
                f"total {self._gate.counted:.0f} s and the next ({wait:.0f} s, {why}) would pass "
                f"max_total_wait={self.max_total_wait:g} s{retry.detail}"), None, call, status=429)
        self._count("rate_limited_waits")
        self._count("rate_limited_seconds", extension)
        return wait, why

    def _capped(self, asked: float | None, why: str, call: _Call) -> tuple[float, str]:
        """The wait before the next attempt: what the server asked (<= max_wait) or a backoff."""
        if asked is None:
            return self._backoff(call.requests - 1), "backoff"
        if asked > self.max_wait:
            return self.max_wait, f"{why} {asked:g} s, capped at max_wait"
        return asked, why

    def _backoff(self, retry_index: int) -> float:
        """Full-jitter exponential backoff: uniform(0, min(backoff_max, base * 2**n))."""
        ceiling = min(self.backoff_max, self.backoff_base * 2.0 ** min(retry_index, 60))
        return ceiling * self._rand()

    def _give_up(self, call: _Call, retry: _Retry) -> NP6HTTPError:
        """The error that ends a call whose attempts are used up, chosen by what went wrong."""
        if call.connect_failures == call.requests:
            advice = (f"gave up after {call.requests} attempts" if self._answered
                      else "the host never answered: check base_url (SOURCES__NP6__BASE_URL)")
            return self._error(NP6Unreachable, f"cannot reach NP6 at {self.origin} ({retry.label}) on "
                               f"{call.where}: {advice}", None, call)
        error_class: type[NP6HTTPError] = {"rate": NP6RateLimited, "body": NP6BadResponse}.get(
            retry.kind, NP6ServerError)
        message = (f"{retry.problem} on {call.where}{retry.detail}: gave up after {call.requests} "
                   f"attempts and {call.waited:.1f} s of waiting")
        return self._error(error_class, message, None, call, status=retry.status)

    # --- rate budget ------------------------------------------------------------------------

    def _asked_wait(self, response: httpx.Response, *, with_reset: bool) -> tuple[float | None, str]:
        """The wait an answer asks for: Retry-After, else (for a 429) X-RateLimit-Reset, else None."""
        now = self._server_now(response)
        after = _retry_after_seconds(response.headers.get("retry-after"), now)
        if after is not None:
            return after, "Retry-After"
        reset = _reset_seconds(response.headers.get("x-ratelimit-reset"), now) if with_reset else None
        if reset is not None:
            return reset, "X-RateLimit-Reset"
        return None, "backoff"

    def _observe_budget(self, call: _Call, response: httpx.Response) -> None:
        """Close the gate until the reset when NP6 says fewer requests remain than can be in flight."""
        remaining = _number(response.headers.get("x-ratelimit-remaining"))
        reset = _reset_seconds(response.headers.get("x-ratelimit-reset"), self._server_now(response))
        if remaining is None or reset is None or remaining >= self.concurrency or reset <= 0:
            return
        wait = min(reset, self.max_wait)
        if self._gate.hold(wait):
            self._count("rate_limited_waits")
            log.info("rate budget low after %s (X-RateLimit-Remaining %g): pausing all requests %.1f s "
                     "until X-RateLimit-Reset", call.where, remaining, wait)

    def _server_now(self, response: httpx.Response) -> float:
        """Epoch seconds at the server (its `Date` header), so epoch headers ignore local clock skew."""
        date = response.headers.get("date")
        when = _http_date(date) if date else None
        return when if when is not None else self._wall_clock()

    # --- messages and bookkeeping -----------------------------------------------------------

    def _error(self, error_class: type[ErrorT], message: str, response: httpx.Response | None,
               call: _Call, *, status: int | None = None) -> ErrorT:
        """An NP6 error with a one-line, key-free message."""
        if response is not None:
            status = response.status_code
            message += self._request_id(response)
        return error_class(_one_line(self._redact(message)), status=status, path=call.path)

    def _client_error_message(self, call: _Call, response: httpx.Response) -> str:
        """The message for a 3xx or a 4xx other than 401/403/404/429."""
        status = response.status_code
        if status < 400:
            return (f"NP6 answered {_status(status)} on {call.where}: redirects are not followed; "
                    f"check base_url ({self.base_url})")
        body = self._excerpt(response.content)
        return f"NP6 answered {_status(status)} on {call.where}" + (f": {body}" if body else "")

    def _request_id(self, response: httpx.Response) -> str:
        """` (x-request-id ...)` when NP6 sent one: support can trace the request with it."""
        request_id = response.headers.get("x-request-id")
        return f" (x-request-id {self._excerpt(request_id.encode())})" if request_id else ""

    def _excerpt(self, body: bytes) -> str:
        """At most ~80 printable characters of a body, on one line, without the key."""
        text = self._redact(_one_line(body[: _EXCERPT_CHARS * 8].decode("utf-8", "replace")))
        text = "".join(ch if ch.isprintable() else "?" for ch in text)
        return text if len(text) <= _EXCERPT_CHARS else text[: _EXCERPT_CHARS - 1] + "…"

    def _redact(self, text: str) -> str:
        """`text` with the API key replaced, in case a server or proxy echoed it."""
        return redact(text, self._api_key)

    def _waited(self, call: _Call, seconds: float) -> None:
        """Account for time slept on behalf of `call`."""
        if seconds > 0:
            call.waited += seconds
            self._count("waited_seconds", seconds)

    def _count(self, key: str, amount: float = 1) -> None:
        """Add to a running total in `stats`."""
        with self._lock:
            self._stats[key] += amount


_AUTH_MESSAGES = {
    401: "NP6 rejected the API key (401 Unauthorized) on {where}: check SOURCES__NP6__API_KEY",
    403: "NP6 refused the API key (403 Forbidden) on {where}: the key lacks the rights for this "
         "operation; check SOURCES__NP6__API_KEY or ask NP6 to extend its rights",
}

_CONNECT_REASONS = (
    ("refused", "connection refused"),
    ("name or service not known", "DNS lookup failed"),
    ("nodename nor servname", "DNS lookup failed"),
    ("name resolution", "DNS lookup failed"),
    ("getaddrinfo", "DNS lookup failed"),
    ("no route to host", "no route to host"),
    ("network is unreachable", "network unreachable"),
    ("reset by peer", "connection reset"),
)


def _connect_reason(exc: httpx.RequestError) -> str:
    """A short, stable reason for a connection that could not be opened."""
    if isinstance(exc, httpx.ConnectTimeout):
        return "connect timed out"
    text = str(exc).lower()
    for marker, reason in _CONNECT_REASONS:
        if marker in text:
            return reason
    return _one_line(str(exc))[:_EXCERPT_CHARS] or type(exc).__name__


def _status(status: int) -> str:
    """`429 Too Many Requests`."""
    phrase = httpx.codes.get_reason_phrase(status)
    return f"{status} {phrase}" if phrase else str(status)


def _one_line(text: str) -> str:
    """Whitespace (newlines included) collapsed to single spaces."""
    return re.sub(r"\s+", " ", text).strip()


def _number(value: str | None) -> float | None:
    """A finite number from a header, or None."""
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _http_date(value: str) -> float | None:
    """Epoch seconds of an HTTP date (`Wed, 21 Oct 2026 07:28:00 GMT`), or None."""
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return when.timestamp() if when.tzinfo is not None else None


def _retry_after_seconds(value: str | None, server_now: float) -> float | None:
    """Seconds from now a `Retry-After` asks for (delta seconds or HTTP date), or None."""
    if value is None:
        return None
    seconds = _number(value)
    if seconds is None:
        when = _http_date(value)
        seconds = None if when is None else when - server_now
    return None if seconds is None else max(0.0, seconds)


def _reset_seconds(value: str | None, server_now: float) -> float | None:
    """Seconds from now until `X-RateLimit-Reset`, whose unit NP6 does not state.

    Above 10^12 it can only be epoch milliseconds, above 10^9 epoch seconds (2001 onward);
    anything smaller is a delay in seconds.
    """
    number = _number(value)
    if number is None:
        return None
    if number > 1e12:
        number = number / 1000.0 - server_now
    elif number > 1e9:
        number -= server_now
    return max(0.0, number)


def _check_api_key(api_key: Any) -> str:
    """The key, stripped; refuse a missing one or one that cannot go in a header."""
    key = api_key.strip() if isinstance(api_key, str) else ""
    if not key:
        raise NP6ConfigError("no NP6 API key: set SOURCES__NP6__API_KEY or api_key in .dlt/secrets.toml")
    if not key.isascii() or not key.isprintable() or " " in key:
        raise NP6ConfigError("the NP6 API key contains spaces, control or non-ASCII characters: "
                             "check SOURCES__NP6__API_KEY")
    return key


def _check_base_url(base_url: Any, api_key: str) -> httpx.URL:
    """The parsed base URL; refuse anything but `http(s)://host...`."""
    text = str(base_url).strip() if base_url is not None else ""
    try:
        url = httpx.URL(text)
    except (httpx.InvalidURL, TypeError, ValueError):
        url = None
    if url is None or url.scheme not in ("http", "https") or not url.host:
        shown = redact(repr(base_url), api_key)
        raise NP6ConfigError(f"base_url {shown} is not an http(s) URL: set it like https://api-cm.np6.com")
    return url


_COUNTS = ("max_attempts", "concurrency")


def _check_settings(**settings: float) -> None:
    """Refuse counts below 1, a timeout that is not positive and negative waits."""
    for name, value in settings.items():
        if name in _COUNTS:
            ok, rule = isinstance(value, int) and value >= 1, "a whole number >= 1"
        elif name == "timeout":
            ok, rule = value > 0, "a number of seconds > 0"
        else:
            ok, rule = value >= 0, "a number of seconds >= 0"
        if not ok:
            raise NP6ConfigError(f"{name}={value!r} is out of range: use {rule}")


def _check_path(path: str) -> str:
    """A path under the base URL; a full URL would send the key to another host."""
    if "://" in path or path.startswith("//"):
        raise ValueError(f"NP6 paths are relative to base_url, got {path!r}")
    return "/" + path.lstrip("/")
