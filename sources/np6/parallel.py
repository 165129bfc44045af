"""`ordered_map`: a few calls in flight on threads, results handed over in input order.

Every NP6 read here is I/O bound and the client bounds requests in flight itself, so a thread per
call up to `concurrency` is enough; results come back in the order of the inputs so that windows
are committed in order and a consumer sees a deterministic sequence. A call only starts when the
consumer has taken a result (at most `concurrency` finished results ever wait), and no call waits
on the consumer: a consumer that pauses (dlt extracting another resource) blocks nobody.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def ordered_map(function: Callable[[T], R], items: Iterable[T], concurrency: int, name: str = "np6") -> Iterator[R]:
    """`map(function, items)` with up to `concurrency` calls in flight, results in input order."""
    width = max(1, concurrency)
    with ThreadPoolExecutor(max_workers=width, thread_name_prefix=name) as threads:
        pending: deque[Future[R]] = deque()
        try:
            for item in items:
                pending.append(threads.submit(function, item))
                if len(pending) >= width:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()
