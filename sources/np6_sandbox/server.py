"""The sandbox's HTTP API: NP6's action and action-event routes over one `Account`.

Routes (`X-Key` required), declared as data in `ROUTES` (GET unless said otherwise):

    /actions                                   ?creation_start&creation_end
    /actions/{id}
    /actions/events                            mixed types, including types the docs never show
    /actions/events/{activations|bounces|cancellations|hits}
    /actions/events/hits/{open|redirection|mirror|form|unsubscribe}
    /actions/{id}/events/{activations|bounces|cancellations|hits}
    /actions/{id}/events/hits/{open|redirection|mirror|form|unsubscribe}
    archives and management lists: see `management.py`
    recipient exports       /actions/{id}/export/tracking/{opens|clicks}: see `exports.py`
    contacts and redlists   /targets/{id}, /targets/redlist/{mail|sms}: see `contacts.py`
    push notifications      /notifications, /notifications/{nid}/events...: see `push.py`
    reactivities            /actions/reactivities..., /notifications/reactivities...: see `reactivities.py`
    campaigns               /campaigns, POST /campaigns/{campaign}/events: see `campaigns.py`

A request on a route of another method answers 405. Field renames (`rename_field`) are state of
one server, never of the shared `Account`: `GET /fields` answers them on that server only.

Event routes take `start` (inclusive) and `end` (exclusive), each an ISO date, an ISO datetime or
epoch milliseconds (a missing bound is the account's span edge), `sort=asc|desc` (absent: a new
shuffle on every request, as NP6 warns), and on hit routes `classification=a,b` (only hits with one
of those robot classifications; absent: all hits, or only human hits with the fault knob
`robots_in_default_feed` off). Bodies are bare JSON arrays, no pagination.
Small bodies go out with `Content-Length`; bodies over `STREAM_THRESHOLD` are streamed one hour at a
time with chunked transfer encoding.

Test hooks (no key): `GET /_sandbox/stats`, `POST /_sandbox/reset`, `GET|POST /_sandbox/faults`.
The API key is never logged, and no log line contains a header.
"""

from __future__ import annotations

import itertools
import os
import random
import re
import socket
import sys
import threading
import traceback
import uuid
from collections import Counter, deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from hmac import compare_digest
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple
from urllib.parse import parse_qs, unquote, urlsplit

import orjson

from . import campaigns, contacts, exports, push, reactivities
from .data import HIT_TYPES, Account, EventFilter
from .faults import FaultInjector, Faults, Headers, Reply, error_reply
from .management import MANAGEMENT_ROUTES, Call, ManagementRoute, answer, field_ids, groups_of
from .times import parse_ms

STREAM_THRESHOLD = 1 << 20  # bytes buffered before switching to chunked streaming
LOG_SIZE = 1000


# --- routes as data ---------------------------------------------------------------------------


class Route(NamedTuple):
    """One API route: its name in stats, its path pattern and what it serves."""

    name: str
    pattern: re.Pattern[str]
    kind: str  # "actions", "action", "events" or "management" (archives, dimensions)
    types: frozenset[str] | None = None  # event types served; None = every type
    hit_types: frozenset[str] | None = None
    hits: bool = False  # accepts `classification`
    management: ManagementRoute | None = None  # what answers a "management" route
    method: str = "GET"


_EVENT_KINDS = {"activations": "activation", "bounces": "bounce", "cancellations": "cancellation",
                "hits": "hit"}  # fmt: skip


def _event_routes(prefix: str) -> list[Route]:
    """The per-type and per-hit-type event routes under `prefix` (`/actions` or `/actions/{id}`)."""
    regex = prefix.replace("{id}", "(?P<id>[^/]+)")
    routes = [
        Route(f"{prefix}/events/{plural}", re.compile(f"{regex}/events/{plural}"), "events",
              frozenset({singular}), hits=singular == "hit")
        for plural, singular in _EVENT_KINDS.items()
    ]  # fmt: skip
    routes += [
        Route(f"{prefix}/events/hits/{hit}", re.compile(f"{regex}/events/hits/{hit}"), "events",
              frozenset({"hit"}), frozenset({hit}), hits=True)
        for hit in HIT_TYPES
    ]  # fmt: skip
    return routes


# Order matters: the first route matching a path wins (`/targets/redlist/mail` before
# `/targets/{id}`, `/actions/reactivities` before `/actions/{id}`).
DATA_ROUTES: tuple[ManagementRoute, ...] = (
    *MANAGEMENT_ROUTES,
    *exports.ROUTES,
    *contacts.ROUTES,
    *push.ROUTES,
    *reactivities.ROUTES,
    *campaigns.ROUTES,
)

ROUTES: tuple[Route, ...] = (
    *(Route(r.name, r.pattern, "management", management=r, method=r.method) for r in DATA_ROUTES),
    Route("/actions", re.compile("/actions"), "actions"),
    Route("/actions/events", re.compile("/actions/events"), "events"),
    *_event_routes("/actions"),
    *_event_routes("/actions/{id}"),
    Route("/actions/{id}", re.compile("/actions/(?P<id>[^/]+)"), "action"),
)


def match_route(path: str) -> tuple[Route, str | None] | None:
    """The first route whose pattern matches the whole path, and the action id it names."""
    for route in ROUTES:
        found = route.pattern.fullmatch(path)
        if found:
            action_id = found.groupdict().get("id")
            return route, unquote(action_id) if action_id is not None else None
    return None


class BadRequest(Exception):
    """A malformed query parameter: answered 400 with a message naming it."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(message)
        self.parameter = parameter


def _instant(params: dict[str, str], name: str) -> int | None:
    """Query parameter `name` as epoch ms (None when absent)."""
    if name not in params:
        return None
    try:
        return parse_ms(params[name])
    except (ValueError, OverflowError):
        raise BadRequest(name, f"{name} must be an ISO date, an ISO datetime or epoch milliseconds, "
                               f"got {params[name]!r}") from None  # fmt: skip


def _sort(params: dict[str, str]) -> str | None:
    sort = params.get("sort")
    if sort not in (None, "asc", "desc"):
        raise BadRequest("sort", f"sort must be asc or desc, got {sort!r}")
    return sort


def _classification(params: dict[str, str], route: Route) -> frozenset[str] | None:
    if not route.hits or not params.get("classification"):
        return None
    return frozenset(v.strip() for v in params["classification"].split(",") if v.strip()) or None


# --- statistics -------------------------------------------------------------------------------


class Stats:
    """What the API was asked, for tests: counts per route and a log of the last requests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._requests = 0
            self._by_route: Counter[str] = Counter()
            self._by_status: Counter[str] = Counter()
            self._events = 0
            self._log: deque[dict[str, Any]] = deque(maxlen=LOG_SIZE)

    def record(self, route: str, path: str, query: str, status: int, events: int = 0) -> None:
        with self._lock:
            self._requests += 1
            self._by_route[route] += 1
            self._by_status[str(status)] += 1
            self._events += events
            self._log.append({"route": route, "path": path, "query": query, "status": status,
                              "events": events})  # fmt: skip

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"requests": self._requests, "by_route": dict(self._by_route),
                    "by_status": dict(self._by_status),
                    "events_served": self._events, "log": list(self._log)}  # fmt: skip


# --- read-ahead -------------------------------------------------------------------------------


class _ReadAhead:
    """Renders the hours after the last window served, in a background thread.

    A connector reading window after window spends time parsing each answer; meanwhile the sandbox
    prepares the next window, so its generation cost leaves the critical path. It only reads as
    far ahead as the hour cache has room for beside the window just served, and a newer window
    replaces the plan. Worth it when the sandbox has its own process (`python -m`); in the
    client's process it would only compete for the interpreter lock.
    """

    def __init__(self, account: Account) -> None:
        self._account = account
        self._plan: range = range(0)
        self._version = 0
        self._stopped = False
        self._wake = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="np6-sandbox-read-ahead", daemon=True)
        self._thread.start()

    def after(self, hours: range) -> None:
        """Plan the hours that follow `hours`, as many as `hours` and as the cache allows."""
        room = self._account.cache_capacity() - len(hours)
        last = min(hours.stop + min(len(hours), room), self._account.spec.buckets)
        with self._wake:
            self._plan, self._version = range(hours.stop, max(hours.stop, last)), self._version + 1
            self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._plan and not self._stopped:
                    self._wake.wait()
                if self._stopped:
                    return
                plan, version, self._plan = self._plan, self._version, range(0)
            for index in plan:
                if self._stopped or self._version != version:
                    break
                self._account.bucket(index)

    def stop(self) -> None:
        with self._wake:
            self._stopped = True
            self._wake.notify()
        self._thread.join(timeout=5)


# --- the server -------------------------------------------------------------------------------


@dataclass
class _Request:
    """What the handler parsed from the request line, for logging and stats."""

    path: str
    query: str
    params: dict[str, str]
    route: str = "(no route)"


class SandboxServer:
    """The sandbox API on a local port, in a background thread (`start`) or in the foreground
    (`serve_forever`).

    Usable as a context manager. `port=0` picks a free port; `.url` is known as soon as the
    object exists. `faults` can be replaced at any time (`set_faults` or `POST /_sandbox/faults`).
    `read_ahead` prepares the hours after each window served (see `_ReadAhead`).
    """

    def __init__(self, account: Account, host: str = "127.0.0.1", port: int = 0,
                 faults: Faults | None = None, *, log_requests: bool = False,
                 read_ahead: bool = False) -> None:  # fmt: skip
        self.account = account
        self._stats = Stats()
        self.log_requests = log_requests
        self._injector = FaultInjector(faults)
        self._renames: dict[int, str] = {}
        self._renames_lock = threading.Lock()
        self._read_ahead = _ReadAhead(account) if read_ahead else None
        self._httpd = _HTTPServer(host, port, self)
        self._thread: threading.Thread | None = None

    @property
    def api_key(self) -> str:
        return self.account.spec.api_key

    @property
    def host(self) -> str:
        return self._httpd.server_address[0]

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def faults(self) -> Faults:
        return self._injector.faults

    def set_faults(self, faults: Faults | None) -> None:
        """Replace the fault knobs; counters (fail_first, the rate window) start over."""
        self._injector = FaultInjector(faults)

    def stats(self) -> dict[str, Any]:
        """What `GET /_sandbox/stats` answers: `requests`, `by_route`, `by_status`, `events_served`,
        `log`."""
        return self._stats.snapshot()

    def rename_field(self, field_id: int, name: str) -> None:
        """Rename a catalogue field on this server only (`GET /fields` answers the new name)."""
        if field_id not in field_ids():
            raise ValueError(f"unknown field id {field_id!r}; known: {sorted(field_ids())}")
        with self._renames_lock:
            self._renames[field_id] = name

    def renames(self) -> Mapping[int, str]:
        """The field renames of this server (`id -> name`), a snapshot."""
        with self._renames_lock:
            return dict(self._renames)

    def reset_stats(self) -> None:
        self._stats.reset()

    def record(self, route: str, path: str, query: str, status: int, events: int = 0) -> None:
        """Count one answered API request (the handler calls it before the last bytes leave)."""
        self._stats.record(route, path, query, status, events)

    def start(self) -> SandboxServer:
        """Serve in a daemon thread; returns self."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                            name=f"np6-sandbox:{self.port}", daemon=True)  # fmt: skip
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until `stop()` (from another thread) or Ctrl-C."""
        try:
            self._httpd.serve_forever(poll_interval=0.2)
        finally:
            self._close()

    def stop(self) -> None:
        """Stop serving, drop open keep-alive connections and free the port."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._close()

    def _close(self) -> None:
        if self._read_ahead is not None:
            self._read_ahead.stop()
        self._httpd.close_connections()
        self._httpd.server_close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def served(self, hours: range) -> None:
        """Note a window of hours just served (the read-ahead plans the next one)."""
        if self._read_ahead is not None and hours:
            self._read_ahead.after(hours)

    def admit(self) -> tuple[Reply | None, Headers]:
        """Run the fault knobs for one API request (see `FaultInjector.admit`)."""
        return self._injector.admit()

    @property
    def injector(self) -> FaultInjector:
        """The fault state, for the event hooks (`slow_window`, `bad_events`, `spoil`)."""
        return self._injector


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, host: str, port: int, sandbox: SandboxServer) -> None:
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sandbox = sandbox
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__((host, port), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that drops its connection is not an error worth a traceback."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    def track(self, conn: socket.socket, open_: bool) -> None:
        with self._connections_lock:
            (self._connections.add if open_ else self._connections.discard)(conn)

    def close_connections(self) -> None:
        """Shut down keep-alive connections still open, so no handler thread outlives the server."""
        with self._connections_lock:
            conns, self._connections = list(self._connections), set()
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "np6-sandbox"
    timeout = 120  # idle keep-alive connections are closed after this many seconds
    server: _HTTPServer

    # -- plumbing --

    def setup(self) -> None:
        super().setup()
        # Nagle's algorithm + delayed ACK would add ~40 ms to small keep-alive answers.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection, True)

    def finish(self) -> None:
        self.server.track(self.connection, False)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib signature)
        """Quiet: the stdlib would log every request line; `_log` does it when asked."""

    @property
    def sandbox(self) -> SandboxServer:
        return self.server.sandbox

    def _parse(self) -> _Request:
        parts = urlsplit(self.path)
        params = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        return _Request(parts.path.rstrip("/") or "/", parts.query, params)

    def _head(self, status: int, headers: Iterable[tuple[str, str]], length: int | None,
              content_type: str = "application/json") -> bytes:
        lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}",
                 f"Date: {self.date_time_string()}", f"Server: {self.server_version}",
                 f"x-request-id: {uuid.uuid4()}"]  # fmt: skip
        lines += [f"{name}: {value}" for name, value in headers]
        if status != 204:  # a 204 has neither a body nor a length (RFC 9110 §8.6)
            lines.append(f"Content-Type: {content_type}")
            lines.append(f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked")
        if self.close_connection:
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _send(self, req: _Request, reply: Reply, events: int = 0, stats: bool = True) -> None:
        """Send a complete answer in one write (head and body together)."""
        if stats:
            self.sandbox.record(req.route, req.path, req.query, reply.status, events)
        self._log(req, reply.status)
        head = self._head(reply.status, reply.headers, len(reply.body), reply.content_type)
        self.wfile.write(head + reply.body)

    def _log(self, req: _Request, status: int) -> None:
        if self.sandbox.log_requests:
            query = f"?{req.query}" if req.query else ""
            sys.stderr.write(f"{self.address_string()} {self.command} {req.path}{query} {status}\n")

    # -- entry points --

    def do_GET(self) -> None:
        self._dispatch(self._get)

    def do_POST(self) -> None:
        self._dispatch(self._post)

    def _dispatch(self, method: Any) -> None:
        req = self._parse()
        try:
            method(req)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception:  # a sandbox bug: say so, keep serving
            traceback.print_exc()
            self.close_connection = True
            try:
                self._send(req, error_reply(500, "sandbox internal error"))
            except OSError:
                pass

    def _get(self, req: _Request) -> None:
        body = self._body()
        if req.path.startswith("/_sandbox/"):
            return self._control(req)
        self._api(req, body)

    def _api(self, req: _Request, body: bytes) -> None:
        """Route, authenticate, run the fault knobs, then serve one API request."""
        found = match_route(req.path)
        if found is None and self.command == "GET":
            return self._send(req, error_reply(404, f"no route for GET {req.path}"))
        if found is None or found[0].method != self.command:
            verb = found[0].method if found else "GET"
            return self._send(req, error_reply(405, f"the sandbox serves {verb} only on {req.path}"))
        route, action_id = found
        req.route = route.name
        if not compare_digest(self.headers.get("X-Key", "").encode(), self.sandbox.api_key.encode()):
            return self._send(req, error_reply(401, "missing or invalid X-Key header"))
        fixed = self.sandbox.injector.route_reply(route.name, req.path)
        if fixed is not None:
            return self._send(req, fixed)
        injected, headers = self.sandbox.admit()
        if injected is not None:
            return self._send(req, Reply(injected.status, injected.body, (*injected.headers, *headers)))
        try:
            self._serve(req, route, action_id, headers, body)
        except BadRequest as exc:
            self._send(req, error_reply(400, str(exc), headers, parameter=exc.parameter))

    def _body(self) -> bytes:
        """The request body (read even when unused, or the next request on the connection would
        start inside it)."""
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _post(self, req: _Request) -> None:
        body = self._body()
        if req.path.startswith("/_sandbox/"):
            return self._control(req, body)
        self._api(req, body)

    # -- API routes --

    def _serve(self, req: _Request, route: Route, action_id: str | None, headers: Headers,
               body: bytes = b"") -> None:  # fmt: skip
        account = self.sandbox.account
        if action_id is not None and account.action(action_id) is None:
            return self._send(req, error_reply(404, f"unknown action {action_id!r}", headers))
        if route.management is not None:
            data_route = route.management
            call = Call(account, groups_of(data_route, req.path), req.params, self.headers.get("Accept"), body,
                        self.sandbox.renames())  # fmt: skip
            return self._send(req, answer(data_route, call, headers))
        if route.kind == "actions":
            created = _instant(req.params, "creation_start"), _instant(req.params, "creation_end")
            items = account.actions(*created)
            return self._send(req, Reply(200, orjson.dumps(items), tuple(headers)))
        if route.kind == "action":
            return self._send(req, Reply(200, orjson.dumps(account.action(action_id or "")), tuple(headers)))
        start, end = _instant(req.params, "start"), _instant(req.params, "end")
        injector = self.sandbox.injector
        classification = _classification(req.params, route)
        refusal = injector.robot_filter() if classification else None
        if refusal is not None:
            return self._send(req, refusal)
        injector.slow_window(start, end)
        humans = classification is None and not self.sandbox.faults.robots_in_default_feed
        flt = EventFilter(route.types, action_id, route.hit_types, classification, humans)
        groups = self._event_groups(start, end, flt, _sort(req.params))
        bad = injector.bad_events(start, end)
        if bad:
            groups = itertools.chain(groups, [bad])
        self._send_array(req, groups, headers)
        self.sandbox.served(account.bucket_range(start, end))

    def _event_groups(self, start: int | None, end: int | None, flt: EventFilter,
                      sort: str | None) -> Iterator[list[bytes]]:  # fmt: skip
        """The selected events, one list of JSON items per hour, in the order asked for."""
        account = self.sandbox.account
        lo = start if start is not None else -(2**63)
        hi = end if end is not None else 2**63
        hours = list(account.bucket_range(start, end))
        shuffle = random.Random(os.urandom(16)).shuffle if sort is None else None
        if sort == "desc":
            hours.reverse()
        elif shuffle:
            shuffle(hours)
        place = self.sandbox.injector.place_class
        for index in hours:
            bucket = account.bucket(index)
            rows, classes = bucket.select(lo, hi, flt), bucket.classifications
            items = [place(bucket.json[r]) if classes[r] else bucket.json[r] for r in rows]
            if sort == "desc":
                items.reverse()
            elif shuffle:
                shuffle(items)
            if items:
                yield items

    def _send_array(self, req: _Request, groups: Iterator[list[bytes]], headers: Headers) -> None:
        """Write `[item,item,...]`: buffered with Content-Length while small, then streamed in
        chunks (one per hour; `bad_body` spoils buffered answers only). Stats are recorded
        before the last bytes leave, so a client that has read the whole body always finds its
        request in `/_sandbox/stats`."""
        parts, size, count, streaming = [b"["], 1, 0, False
        for items in groups:
            if count:
                parts.append(b",")
            parts.append(b",".join(items))
            size += len(parts[-1]) + 1
            count += len(items)
            if size > STREAM_THRESHOLD and self.request_version == "HTTP/1.1":
                if not streaming:
                    self.wfile.write(self._head(200, headers, None))
                    streaming = True
                self._write_chunk(b"".join(parts))
                parts, size = [], 0
        parts.append(b"]")
        if not streaming:
            reply = self.sandbox.injector.spoil(Reply(200, b"".join(parts), tuple(headers)))
            return self._send(req, reply, events=count)
        self.sandbox.record(req.route, req.path, req.query, 200, count)
        self._log(req, 200)
        self._write_chunk(b"".join(parts))
        self.wfile.write(b"0\r\n\r\n")

    def _write_chunk(self, data: bytes) -> None:
        if data:
            self.wfile.write(b"%x\r\n%b\r\n" % (len(data), data))

    # -- test hooks --

    def _control(self, req: _Request, body: bytes = b"") -> None:
        sandbox, method = self.sandbox, self.command
        if (method, req.path) == ("GET", "/_sandbox/stats"):
            return self._send(req, Reply(200, orjson.dumps(sandbox.stats())), stats=False)
        if (method, req.path) == ("POST", "/_sandbox/reset"):
            sandbox.reset_stats()
            return self._send(req, Reply(200, orjson.dumps(sandbox.stats())), stats=False)
        if req.path == "/_sandbox/faults" and method in ("GET", "POST"):
            if method == "POST":
                try:
                    sandbox.set_faults(Faults.from_dict(orjson.loads(body or b"{}")))
                except (ValueError, TypeError) as exc:
                    return self._send(req, error_reply(400, f"bad faults: {exc}"), stats=False)
            return self._send(req, Reply(200, orjson.dumps(sandbox.faults.to_dict())), stats=False)
        self._send(req, error_reply(404, f"no sandbox hook {method} {req.path}"), stats=False)
