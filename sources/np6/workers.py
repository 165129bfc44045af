"""Decoding beside the main process: large bodies streamed to worker processes as they arrive.

Parsing JSON and flattening events hold the interpreter lock: in one process they cannot overlap
with dlt writing the previous window, nor with each other. `decode_stream` hands a body that
turns out large to a worker process of a small pool: the main process keeps the HTTP read (one
client, one rate budget) and forwards each chunk through a pipe as it arrives; the worker cuts,
parses and flattens it slice by slice (`decode.decode_chunks`, the same code as here) and sends
back the window's Arrow tables. Neither side ever holds the whole body.

- A body under `POOL_MIN_BYTES` (an hourly run's windows) is decoded here: a worker would cost
  more than it saves, and no process is ever started for it.
- Workers start when the first large body comes, in the background; until one has said it is
  ready, and whenever all are busy, a body is decoded here. So nothing waits for a worker.
- A worker that dies (killed, out of memory) turns its body into a `BadBody`, which the caller
  reads again and decodes here; the next large body starts a new worker. A worker leaves when
  the loading process is gone, even killed with SIGKILL.
"""

from __future__ import annotations

import atexit
import gc
import itertools
import multiprocessing
import os
import threading
import time
from collections.abc import Iterable
from multiprocessing.connection import Connection
from typing import Any

from .decode import BadBody, decode_chunks, release_memory
from .normalize import Normalized

# Below this size a body decodes in a few milliseconds: shipping it to a worker costs more.
POOL_MIN_BYTES = 2_000_000
_READY = "ready"


def default_workers() -> int:
    """One decoding process per core, but none on a single core (nothing to overlap with)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return cores if cores > 1 else 0


def decode_stream(chunks: Iterable[bytes], robots: bool = False, workers: int = 0) -> Normalized | BadBody:
    """Decode a body arriving as `chunks`: in a free worker process (of at most `workers`) once
    it has passed `POOL_MIN_BYTES`, else here. Same result either way (see `decode_chunks`)."""
    stream = iter(chunks)
    head: list[bytes] = []
    if workers > 0:
        size = 0
        for chunk in stream:
            head.append(chunk)
            size += len(chunk)
            if size >= POOL_MIN_BYTES:
                break
        else:  # the whole body came, and it is small
            return decode_chunks(head, robots)
    worker = _POOL.take(workers) if workers > 0 else None
    if worker is None:
        return decode_chunks(itertools.chain(head, stream), robots)
    try:
        return worker.decode(itertools.chain(head, stream), robots)
    finally:
        _POOL.give(worker)


class _Worker:
    """One worker process and the main process's end of its pipe."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")  # forking a threaded process is unsafe
        self.conn, theirs = context.Pipe()
        self.process = context.Process(target=_serve, args=(theirs, os.getpid()), name="np6-decode", daemon=True)
        self.process.start()
        theirs.close()
        self.ready = False
        self.broken = False

    def is_ready(self) -> bool:
        """Whether the worker has started (without waiting for it)."""
        if not self.ready and not self.broken:
            try:
                if self.conn.poll():
                    self.ready = self.conn.recv() == _READY
            except (EOFError, OSError):
                self.broken = True
        return self.ready and not self.broken

    def decode(self, chunks: Iterable[bytes], robots: bool) -> Normalized | BadBody:
        """Stream `chunks` to the worker and wait for its result. An error while reading the
        chunks (the download broke off, a size cap) ends the worker's body first, then rises."""
        if not self._send(robots):
            return self._gone()
        try:
            for chunk in chunks:
                if not self._send(chunk):
                    return self._gone()
        except BaseException:
            if self._send(b""):
                self._receive()  # the worker's verdict on the cut body: not needed
            raise
        result = self._receive() if self._send(b"") else None
        if result is None:
            return self._gone()
        if isinstance(result, BaseException):
            raise result
        return result  # type: ignore[no-any-return]

    def _send(self, item: bytes | bool) -> bool:
        """Send a chunk (bytes) or a body's flag; False when the worker is gone."""
        try:
            if isinstance(item, bytes):
                self.conn.send_bytes(item)
            else:
                self.conn.send(item)
        except OSError:
            self.broken = True
        return not self.broken

    def _receive(self) -> Any:
        try:
            return self.conn.recv()
        except (EOFError, OSError):
            self.broken = True
            return None

    def _gone(self) -> BadBody:
        """What a body whose worker died becomes: the caller reads it again and decodes it here."""
        return BadBody("the decoding worker process stopped")

    def stop(self) -> None:
        try:
            self.conn.send(None)
        except OSError:
            pass
        self.conn.close()
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.kill()


class _Pool:
    """The worker processes of this process: started on first need, reused by every run."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._all: list[_Worker] = []
        self._free: list[_Worker] = []
        self._exit_hook = False

    def take(self, workers: int) -> _Worker | None:
        """A ready, idle worker, or None (all busy or starting); starts the missing ones."""
        with self._lock:
            self._all = [w for w in self._all if not w.broken]
            self._free = [w for w in self._free if not w.broken]
            if not self._exit_hook:
                atexit.register(self.shutdown)
                self._exit_hook = True
            while len(self._all) < workers:
                worker = _Worker()
                self._all.append(worker)
                self._free.append(worker)
            for worker in self._free:
                if worker.is_ready():
                    self._free.remove(worker)
                    return worker
            return None

    def give(self, worker: _Worker) -> None:
        """Take back a worker after its body; a broken one is dropped (and its process ended)."""
        with self._lock:
            if worker.broken:
                self._all = [w for w in self._all if w is not worker]
            elif worker in self._all:
                self._free.append(worker)
        if worker.broken:
            worker.stop()

    def shutdown(self) -> None:
        """Stop every worker (the next large body starts them again)."""
        with self._lock:
            workers, self._all, self._free = self._all, [], []
        for worker in workers:
            worker.stop()

    def pids(self) -> list[int]:
        with self._lock:
            return [w.process.pid for w in self._all if w.process.pid is not None]


_POOL = _Pool()
shutdown = _POOL.shutdown


def _serve(conn: Connection, parent: int) -> None:
    """A worker's loop: a body's `robots` flag, its chunks up to an empty one, then the result."""
    _leave_with(parent)
    gc.freeze()  # what the imports made is never garbage: keep the collector off it
    conn.send(_READY)
    while True:
        try:
            robots = conn.recv()
        except EOFError:
            return
        if robots is None:
            return
        chunks = iter(conn.recv_bytes, b"")
        result: Any
        try:
            result = decode_chunks(chunks, robots)
        except Exception as exc:  # a bug, not a body: said in the main process
            result = exc
        for _ in chunks:  # whatever the decoder did not read, up to the end marker
            pass
        conn.send(result)
        del result
        release_memory()  # the body's heap back to the system before the next one


def _leave_with(parent: int) -> None:
    """Exit when the loading process is gone (killed with SIGKILL, say): a killed parent cannot
    stop its workers, and the parent-death signal follows a thread, not a process."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="np6-parent-watch", daemon=True).start()
