"""What a run holds while it loads: memory and connections, kept to what the work needs.

Each default here gives way to the user's own setting (config or environment):

- `dlt_defaults`: two dlt settings for the duration of a run. dlt takes items from its open
  generators round robin; every batch of the event feed reaches a dozen transformers (one per
  table) through a generator of its own, so round robin kept ~9 windows' Arrow tables alive at
  once and interleaved them (~150 MB at 50k events a day); first in, first out (`[extract]
  next_item_mode = "fifo"`) finishes each batch before the feed reads on, and nothing of ours
  depends on the interleaving. And the staging dataset is emptied once a package is loaded
  (`[load] truncate_staging_dataset`): the next package refills it anyway, and on DuckDB the
  checkpoint after each commit group then writes only the dataset, not a second copy of the
  group's rows (1.3 s instead of 2.5 s a group at 50k events a day).
- `arrow_pool_default`: pyarrow's jemalloc pool keeps freed pages for later; the system
  allocator gives them back, and a load whose tables come and go window by window peaked
  ~250 MB lower with it, as fast (`ARROW_DEFAULT_MEMORY_POOL` chooses another).
- `heap_default`: glibc returns free heap above 128 KB at once, in every thread's arena
  (`MALLOC_TRIM_THRESHOLD_` chooses another threshold). Without it the download threads'
  arenas kept what each group freed and a 15-day backfill at 50k events a day grew ~50 MB a
  group; with it the peak stayed within 10% from 3 to 15 days (391 vs 423 MB, with DuckDB's
  defaults of `np6_pipeline.DUCKDB_GLOBAL_CONFIG`).
- `release_memory`: after each commit group, glibc returns the heap pages the group freed
  (Python's parsed slices, Arrow buffers) instead of holding them for the next group (the
  helper lives in `sources.np6.decode`: a decode worker trims after each body with it).
- `database_open`: one connection to a DuckDB file for the whole run, so the dozen clients dlt
  opens and closes join the open database instead of opening and checkpointing it each time;
  reopened between commit groups, so DuckDB's cache of one merge is not held through the next
  group's decoding.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import dlt
import pyarrow as pa

from sources.np6.decode import release_memory, trim_above

__all__ = ["arrow_pool_default", "database_open", "dlt_defaults", "heap_default", "release_memory"]

ARROW_POOL_ENV = "ARROW_DEFAULT_MEMORY_POOL"
HEAP_TRIM_ENV = "MALLOC_TRIM_THRESHOLD_"  # glibc reads it at start-up; then ours is not set
HEAP_TRIM_BYTES = 128 << 10
# dlt setting -> the value a run uses unless the user's config or environment sets one.
DLT_DEFAULTS = {"extract.next_item_mode": "fifo", "load.truncate_staging_dataset": "true"}


@contextmanager
def dlt_defaults() -> Iterator[None]:
    """`DLT_DEFAULTS` for the duration of a run, each where no config or environment sets it."""
    added = []
    for key, value in DLT_DEFAULTS.items():
        name = key.upper().replace(".", "__")
        if name not in os.environ and dlt.config.get(key) is None:
            os.environ[name] = value
            added.append(name)
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)


def arrow_pool_default() -> None:
    """Allocate Arrow buffers with the system allocator, unless `ARROW_DEFAULT_MEMORY_POOL` says."""
    if ARROW_POOL_ENV not in os.environ:
        pa.set_memory_pool(pa.system_memory_pool())


def heap_default() -> None:
    """Return free heap above `HEAP_TRIM_BYTES` at once, unless `MALLOC_TRIM_THRESHOLD_` says.

    A process-wide allocator setting: it stays for the rest of the process."""
    if HEAP_TRIM_ENV not in os.environ:
        trim_above(HEAP_TRIM_BYTES)


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
