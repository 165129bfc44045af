"""What a run holds while it loads: memory and connections, kept to what the work needs.

Each default here gives way to the user's own setting (config or environment):

- `extract_in_order`: dlt takes items from its open generators round robin. Every batch of the
  event feed reaches a dozen transformers (one per table) through a generator of its own, so
  round robin kept ~9 windows' Arrow tables alive at once and interleaved them (~150 MB at 50k
  events a day); first in, first out (`[extract] next_item_mode = "fifo"`) finishes each batch
  before the feed reads on. Nothing of ours depends on the interleaving.
- `arrow_pool_default`: pyarrow's jemalloc pool keeps freed pages for later; the system
  allocator gives them back, and a load whose tables come and go window by window peaked
  ~250 MB lower with it, as fast (`ARROW_DEFAULT_MEMORY_POOL` chooses another).
- `release_memory`: after each commit group, glibc returns the heap pages the group freed
  (Python's parsed slices, Arrow buffers) instead of holding them for the next group.
- `database_open`: one connection to a DuckDB file for the whole run, so the dozen clients dlt
  opens and closes join the open database instead of opening and checkpointing it each time;
  reopened between commit groups, so DuckDB's cache of one merge is not held through the next
  group's decoding.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import dlt
import pyarrow as pa

EXTRACT_ORDER_ENV = "EXTRACT__NEXT_ITEM_MODE"
ARROW_POOL_ENV = "ARROW_DEFAULT_MEMORY_POOL"


@contextmanager
def extract_in_order() -> Iterator[None]:
    """dlt's extract first in, first out for the duration of a run, unless configured."""
    if EXTRACT_ORDER_ENV in os.environ or dlt.config.get("extract.next_item_mode"):
        yield
        return
    os.environ[EXTRACT_ORDER_ENV] = "fifo"
    try:
        yield
    finally:
        os.environ.pop(EXTRACT_ORDER_ENV, None)


def arrow_pool_default() -> None:
    """Allocate Arrow buffers with the system allocator, unless `ARROW_DEFAULT_MEMORY_POOL` says."""
    if ARROW_POOL_ENV not in os.environ:
        pa.set_memory_pool(pa.system_memory_pool())


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "malloc_trim") else None


_LIBC = _libc()


def release_memory() -> None:
    """Give the heap pages freed so far back to the system (glibc only; elsewhere nothing)."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


@contextmanager
def database_open(pipeline: dlt.Pipeline) -> Iterator[Callable[[], None]]:
    """Keep a DuckDB destination's database open for the whole run; yield `reopen`.

    dlt opens a connection for each client it makes (a load step makes several, a dataset query
    one more) and closes it after; when the last connection of a file closes, DuckDB checkpoints
    and shuts the database, and the next one opens it again (~50 ms each time). While this
    borrowed connection is open, dlt's own connections (same file, same settings) join the open
    database instead. An open database also keeps the blocks its last merge cached (up to its
    memory limit), so `reopen` closes it and opens it again between commit groups: the next
    group decodes beside an empty cache. Other destinations: nothing to do.
    """
    destination = pipeline.destination
    if destination is None or not destination.destination_type.endswith(".duckdb"):
        yield lambda: None
        return
    pool = pipeline.destination_client().config.credentials.conn_pool  # type: ignore[attr-defined]
    held = [pool.borrow_conn()]

    def reopen() -> None:
        pool.return_conn(held.pop())
        held.append(pool.borrow_conn())

    try:
        yield reopen
    finally:
        pool.return_conn(held.pop())
