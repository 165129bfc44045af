"""An NP6-compatible server that answers from bodies built before the clock starts.

    python -m benchmarks.prebuilt --events-per-day 50000 --days 15    # prints "ready on URL"

The sandbox (`sources.np6_sandbox`) generates and renders events on request, so a benchmark
against it measures the sandbox too. This server asks an in-process `SandboxServer` once for
every daily window `GET /actions/events?start&end&sort=asc` of the account (the bytes the sandbox
itself sends, so byte-identical by construction), then serves them from memory:

    /actions/events?start&end   the pre-built body of that window (bounds compared as epoch ms);
                                `[]` for a window it does not hold, counted as a miss
    any other GET               `[]`, so a run of default resources finds empty lists
    /_bench/windows             (no key) `[[start_iso, end_iso, events], ...]`
    /_bench/stats               (no key) `{"requests", "misses", "events"}` since the last reset
    POST /_bench/reset          (no key) zero the counters

`X-Key` is checked on API routes (401 otherwise). One thread per connection, HTTP/1.1 keep-alive,
`Content-Length` bodies: writing a prepared `bytes` releases the interpreter lock, so serving
costs the client almost nothing (the benchmark checks it serves at least 3x the floor's rate).
"""

from __future__ import annotations

import argparse
import select
import subprocess
import sys
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlsplit

import httpx
import orjson

from sources.np6_sandbox import Account, AccountSpec, SandboxServer
from sources.np6_sandbox.times import parse_ms

ROOT = Path(__file__).resolve().parent.parent
EMPTY = b"[]"


class Window(NamedTuple):
    """One pre-built daily window: its bounds as the connector writes them, and its answer."""

    start: str
    end: str
    events: int
    body: bytes


def day_bounds(spec: AccountSpec) -> list[tuple[str, str]]:
    """The account's `[start, end)` day windows as ISO-8601 UTC strings."""
    days = [spec.start + timedelta(days=i) for i in range(spec.days + 1)]
    return [(a.isoformat(), b.isoformat()) for a, b in zip(days, days[1:])]


def build_windows(spec: AccountSpec) -> list[Window]:
    """Ask a sandbox for every daily window of the account feed and keep the bytes."""
    with SandboxServer(Account(spec, cache_mb=64)) as sandbox, httpx.Client(
        base_url=sandbox.url, headers={"X-Key": spec.api_key}, timeout=600
    ) as client:
        windows = []
        for start, end in day_bounds(spec):
            params = {"start": start, "end": end, "sort": "asc"}
            body = client.get("/actions/events", params=params).raise_for_status().content
            windows.append(Window(start, end, len(orjson.loads(body)), body))
    return windows


class Counters:
    """Requests, misses and events served, shared by the handler threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests = self.misses = self.events = 0

    def count(self, events: int = 0, miss: bool = False) -> None:
        with self._lock:
            self.requests += 1
            self.misses += miss
            self.events += events

    def reset(self) -> None:
        with self._lock:
            self.requests = self.misses = self.events = 0

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {"requests": self.requests, "misses": self.misses, "events": self.events}


class PrebuiltServer(ThreadingHTTPServer):
    """Serves `windows` on `host:port` (0 = any free port) for clients sending `api_key`."""

    daemon_threads = True
    request_queue_size = 64

    def __init__(self, windows: list[Window], api_key: str, host: str = "127.0.0.1", port: int = 0) -> None:
        self.windows = windows
        self.by_bounds = {(parse_ms(w.start), parse_ms(w.end)): w for w in windows}
        self.api_key = api_key
        self.counters = Counters()
        super().__init__((host, port), _Handler)

    @property
    def url(self) -> str:
        return f"http://{self.server_address[0]}:{self.server_address[1]}"

    def listing(self) -> bytes:
        return orjson.dumps([[w.start, w.end, w.events] for w in self.windows])

    def answer(self, path: str, query: str) -> bytes:
        """The body of an API GET; counts it."""
        if path != "/actions/events":
            self.counters.count()
            return EMPTY
        params = {k: v[-1] for k, v in parse_qs(query).items()}
        try:
            found = self.by_bounds.get((parse_ms(params["start"]), parse_ms(params["end"])))
        except (KeyError, ValueError):
            found = None
        self.counters.count(found.events if found else 0, miss=found is None)
        return found.body if found else EMPTY


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body leave at once, no delayed-ACK stall
    server: PrebuiltServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib signature)
        pass

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/_bench/windows":
            return self._reply(200, self.server.listing())
        if url.path == "/_bench/stats":
            return self._reply(200, orjson.dumps(self.server.counters.snapshot()))
        if self.headers.get("X-Key") != self.server.api_key:
            return self._reply(401, b'{"message":"bad or missing X-Key"}')
        self._reply(200, self.server.answer(url.path, url.query))

    def do_POST(self) -> None:
        if urlsplit(self.path).path != "/_bench/reset":
            return self._reply(404, b'{"message":"no such route"}')
        self.server.counters.reset()
        self._reply(200, EMPTY)

    def _reply(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


# --- in a child process -----------------------------------------------------------------------


def spec_options(spec: AccountSpec) -> list[str]:
    """The command-line options of `main` that describe `spec`."""
    return ["--seed", str(spec.seed), "--actions", str(spec.actions), "--events-per-day",
            str(spec.events_per_day), "--start", spec.start.isoformat(), "--days", str(spec.days),
            "--api-key", spec.api_key]  # fmt: skip


class PrebuiltProcess:
    """`python -m benchmarks.prebuilt` as a child process; `.url` once its bodies are built."""

    def __init__(self, spec: AccountSpec, build_timeout: float = 600) -> None:
        self.spec = spec
        self.build_timeout = build_timeout
        self.url = ""
        self._proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> PrebuiltProcess:
        argv = [sys.executable, "-m", "benchmarks.prebuilt", *spec_options(self.spec)]
        self._proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        assert self._proc.stdout is not None
        ready, _, _ = select.select([self._proc.stdout], [], [], self.build_timeout)
        line = self._proc.stdout.readline() if ready else ""
        if not line.startswith("ready on "):
            self.__exit__()
            raise RuntimeError(f"the pre-built server did not start: {line.strip() or 'no output'}")
        self.url = line.split()[-1]
        return self

    def __exit__(self, *exc: object) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.terminate()
            proc.wait()
            if proc.stdout:
                proc.stdout.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--port", type=int, default=0)
    for flag in ("--seed", "--actions", "--events-per-day", "--start", "--days", "--api-key"):
        parser.add_argument(flag, required=True)
    args = parser.parse_args()
    spec = AccountSpec.from_strings(seed=args.seed, actions=args.actions, events_per_day=args.events_per_day,
                                    start=args.start, days=args.days, api_key=args.api_key)  # fmt: skip
    server = PrebuiltServer(build_windows(spec), spec.api_key, port=args.port)
    print(f"ready on {server.url}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
