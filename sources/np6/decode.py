"""Turn a window's response body into flat Arrow tables, in worker processes when that pays.

Parsing JSON and flattening events is pure CPU work that holds the interpreter lock: in one
process it cannot overlap with dlt writing the previous window or with the HTTP threads. A small
pool of worker processes takes the body bytes (one memory copy through a pipe) and gives back
Arrow tables (their buffers travel the same way), so parsing runs on another core while the main
process keeps extracting. HTTP stays in the main process: one client, one shared rate budget.

A body that is not a JSON array comes back as `BadBody`; the caller then re-reads it through the
client, whose retry policy decides between a transient glitch and a clear error.
"""

from __future__ import annotations

import atexit
import gc
import multiprocessing
import os
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any, NamedTuple

import orjson

from .normalize import Normalized, normalize_events


class BadBody(NamedTuple):
    """Why a body could not be decoded (not JSON, or JSON that is not an array)."""

    reason: str


_gc_lock = threading.Lock()
_gc_pauses = 0


@contextmanager
def gc_paused() -> Any:
    """Keep Python's cyclic GC out of JSON parsing and flattening.

    Parsing a window allocates millions of small containers that all stay alive until the Arrow
    table is built; the collector would rescan them over and over (measured: up to 2x the parse
    time). Nested pauses from several threads are counted so the last one out re-enables it.
    """
    global _gc_pauses
    with _gc_lock:
        if _gc_pauses == 0 and not gc.isenabled():
            _gc_pauses = -1_000_000  # GC was already off: never turn it on
        _gc_pauses += 1
        gc.disable()
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pauses -= 1
            if _gc_pauses == 0:
                gc.enable()


def decode_events(body: bytes, robots: bool = False) -> Normalized | BadBody:
    """Parse one response body (a JSON array of events) and flatten it (`robots`: read with the
    robot filter, see `normalize_events`)."""
    with gc_paused():
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            return BadBody(f"not JSON ({exc.msg})")
        if not isinstance(data, list):
            return BadBody(f"a JSON {type(data).__name__}, expected an array of events")
        return normalize_events(data, robots=robots)


_pool: ProcessPoolExecutor | None = None
_pool_lock = threading.Lock()


def default_workers() -> int:
    """One decoding process per core, but none on a single core (nothing to overlap with)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return cores if cores > 1 else 0


def shutdown(wait: bool = True) -> None:
    """Stop the worker processes (they start again on the next decode)."""
    global _pool
    with _pool_lock:
        if _pool is not None:
            _pool.shutdown(wait=wait, cancel_futures=True)
            _pool = None


def _shutdown() -> None:
    shutdown(wait=False)


def _exit_with_parent(parent: int) -> None:
    """Worker initializer: leave when the loading process is gone (killed with SIGKILL, say).

    A killed parent cannot stop its workers, and the kernel's parent-death signal follows the
    thread that started a worker, not the process, so a worker watches its parent instead.
    """

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="np6-parent-watch", daemon=True).start()


def pool(workers: int) -> ProcessPoolExecutor:
    """The process pool, started once per process (spawned: forking a threaded process is unsafe)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            context = multiprocessing.get_context("spawn")
            _pool = ProcessPoolExecutor(
                max_workers=workers,
                mp_context=context,
                initializer=_exit_with_parent,
                initargs=(os.getpid(),),
            )
            atexit.register(_shutdown)
        return _pool


# Below this size a body decodes in a few milliseconds: shipping it to a worker (and starting
# the pool, about a second, on a small hourly run) would cost more than it saves.
POOL_MIN_BYTES = 2_000_000


def submit(body: bytes, robots: bool, workers: int) -> Future[Normalized | BadBody]:
    """Decode in a worker process, or right here when `workers` is 0 or the body is small."""
    if workers <= 0 or len(body) < POOL_MIN_BYTES:
        done: Future[Normalized | BadBody] = Future()
        done.set_result(decode_events(body, robots))
        return done
    return pool(workers).submit(decode_events, body, robots)
