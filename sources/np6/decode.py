"""Turn a window's response body into flat Arrow tables, as it arrives or in worker processes.

By default a body is decoded while it downloads (`decode_chunks`): `ArraySlicer` cuts the JSON
array into slices of whole elements (about `SLICE_BYTES` each), and each slice is parsed and
flattened at once, so neither the whole body nor millions of parsed objects are ever held; only
the window's Arrow tables grow. A slice boundary is only ever taken where the bytes before it
parse as a sequence of complete elements, so a string that happens to contain `},{` cannot
cut an event in two (see `ArraySlicer`).

The same decoding runs in worker processes for large bodies (`sources.np6.workers`).

A body that is not a JSON array comes back as `BadBody`; the caller then re-reads it through the
client, whose retry policy decides between a transient glitch and a clear error.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import re
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

import orjson

from .normalize import Normalized, combine_normalized, normalize_events


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


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "malloc_trim") else None


_LIBC = _libc()


def release_memory() -> None:
    """Give the heap pages freed so far (parsed slices, Arrow buffers) back to the system
    (glibc only; elsewhere nothing)."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


M_TRIM_THRESHOLD = -1  # glibc's mallopt parameter


def trim_above(threshold: int) -> bool:
    """Have glibc give free heap back whenever more than `threshold` bytes of it are free at the
    top, in every thread's arena, instead of keeping up to 64 MB per arena (glibc only).

    Fixing the threshold also turns off glibc's sliding one, so large blocks (Arrow buffers, a
    window's slices) are mapped on their own and unmapped when freed. `malloc_trim` alone does
    not reach the top of the download threads' arenas, which grew by ~50 MB a commit group.
    Returns True when glibc took the value.
    """
    return _LIBC is not None and _LIBC.mallopt(M_TRIM_THRESHOLD, threshold) == 1


def decode_events(body: bytes, robots: bool = False) -> Normalized | BadBody:
    """Parse one whole response body (a JSON array of events) and flatten it (`robots`: read
    with the robot filter, see `normalize_events`), slice by slice like a body that arrives."""
    return decode_chunks((body,), robots)


SLICE_BYTES = 1 << 20  # about this many bytes of a body are parsed and flattened at a time

# Where one element of an array of objects may end and the next begin: `}` `,` `{`, any
# whitespace between. Inside a string or a nested array the same bytes can occur; `ArraySlicer`
# only cuts where the bytes before parse whole, which rules both out.
_BOUNDARY = re.compile(rb"\}\s*,\s*\{")
_WHITESPACE = b" \t\r\n"
_MAX_MISSES = 8  # candidate boundaries that fell inside an element before slicing stops


class ArraySlicer:
    """Cut a JSON array that arrives in chunks into lists of its elements, slice by slice.

    `feed` takes the next chunk of bytes and yields the parsed elements of every slice it
    completes; `close` parses what is left (with the closing `]`). A slice ends at a candidate
    boundary `},{` only if the bytes from the slice's start to that `}`, wrapped in `[` `]`,
    parse as JSON. They start where the array's top level is (just after `[` or after a
    top-level `,`), and a JSON text is only valid where every string is closed and every
    bracket matched, so a slice that parses ends at the top level too: a `},{` inside a string
    or in a nested array never passes. A candidate that fails costs one parse of the slice;
    after `_MAX_MISSES` of them the rest of the body is parsed whole at `close`.

    A body that does not start with `[` (an object, an error page) is held and parsed whole
    at `close`, which says what it is. `close` raises `orjson.JSONDecodeError` or `BadArray`.
    """

    def __init__(self, slice_bytes: int = SLICE_BYTES) -> None:
        self.slice_bytes = max(1, slice_bytes)
        self._buf = bytearray()
        self._start: int | None = None  # first byte of the next slice; None before the `[`
        self._scan = 0  # where the next search for a boundary starts
        self._whole = False  # not an array, or too many misses: parse what is left at `close`
        self._misses = 0
        self.sliced = 0  # slices parsed before `close`

    def feed(self, chunk: bytes) -> Iterator[list[Any]]:
        """Add `chunk`; yield the elements of each slice it completes."""
        self._buf += chunk
        if self._start is None and not self._whole:
            self._open()
        while self._start is not None and not self._whole and len(self._buf) - self._start > self.slice_bytes:
            found = _BOUNDARY.search(self._buf, max(self._scan, self._start + self.slice_bytes))
            if found is None:
                self._scan = max(self._start, len(self._buf) - 64)  # the boundary may straddle chunks
                return
            items = self._parse(self._start, found.start() + 1)
            if items is None:
                self._misses += 1
                self._whole = self._misses >= _MAX_MISSES
                self._scan = found.start() + 1
                continue
            # Keep the byte before the next element's `{`: `_parse` and `close` write `[` there.
            del self._buf[: found.end() - 2]
            self._start, self._scan = 1, 1
            self.sliced += 1
            yield items

    def close(self) -> list[Any]:
        """The elements after the last slice (everything, when nothing was sliced)."""
        if self._start is None or (self._whole and not self.sliced):
            data = orjson.loads(self._buf)
            if not isinstance(data, list):
                raise BadArray(f"a JSON {type(data).__name__}, expected an array of events")
            return data
        # What is left is the last elements and the closing `]`: with `[` before them, an array.
        self._buf[self._start - 1] = 0x5B
        with memoryview(self._buf) as view:
            return orjson.loads(view[self._start - 1 :])  # type: ignore[no-any-return]

    def _open(self) -> None:
        """Find the array's `[` (after any whitespace), or decide to parse the body whole."""
        body = self._buf.lstrip(_WHITESPACE)
        if not body:
            return
        if body[:1] != b"[":
            self._whole = True
            return
        self._start = self._scan = len(self._buf) - len(body) + 1

    def _parse(self, start: int, end: int) -> list[Any] | None:
        """`buf[start:end]` parsed as the elements of one array, or None when they are not whole.

        The bytes just outside the slice (`[` or a separator before, a separator after) are
        overwritten with `[` and `]` for the parse and restored, so nothing is copied.
        """
        buf = self._buf
        before, after = buf[start - 1], buf[end]
        buf[start - 1], buf[end] = 0x5B, 0x5D
        try:
            with memoryview(buf) as view:
                return orjson.loads(view[start - 1 : end + 1])  # type: ignore[no-any-return]
        except orjson.JSONDecodeError:
            return None
        finally:
            buf[start - 1], buf[end] = before, after


class BadArray(ValueError):
    """A body that parsed but is not a JSON array."""


def decode_chunks(chunks: Iterable[bytes], robots: bool = False, slice_bytes: int = SLICE_BYTES) -> Normalized | BadBody:
    """Decode a body arriving as `chunks`: each slice parsed and flattened as soon as it is
    whole (see `ArraySlicer`), the window's tables combined at the end."""
    slicer = ArraySlicer(slice_bytes)
    parts: list[Normalized] = []
    for chunk in chunks:
        for items in slicer.feed(chunk):
            with gc_paused():
                parts.append(normalize_events(items, robots=robots))
            del items
    try:
        with gc_paused():
            rest = slicer.close()
            parts.append(normalize_events(rest, robots=robots))
    except orjson.JSONDecodeError as exc:
        return BadBody(f"not JSON ({exc.msg})")
    except BadArray as exc:
        return BadBody(str(exc))
    return parts[0] if len(parts) == 1 else combine_normalized(parts)
