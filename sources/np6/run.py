"""One run's context: its plan, its one client, and what each resource came to.

A `RunContext` is opened once per run (`RunContext.open(plan)`) and passed to every resource of
every commit group: one connection pool, one rate and retry budget, one deadline. Each resource
reads inside `run.guard(name, ...)`, which keeps one resource's failure from touching the
others (dlt would otherwise abandon the whole extract, every resource's windows with it)::

    error in a resource                      what the guard does
    ───────────────────────────────────────  ────────────────────────────────────────────────
    401, host unreachable                    re-raise: nothing can work, the run stops
    403 / 404, optional resource             `unavailable`: one warning, a `_np6_windows` row,
                                             no more requests to it this run
    403 / 404 on a required one, other NP6   `failed`: one warning, a `_np6_windows` row; the
      errors (5xx, 429, bad body) that          run goes on and exits non-zero
      outlived the retries
    deadline reached                         `deadline`: the resource stops where it is

The rows and cursors a resource yielded before it stopped are loaded as usual: its cursor only
ever covers windows whose rows were yielded.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple, TypeVar

import httpx

from .bookkeeping import as_window_row, outcome_row
from .client import NP6Client
from .errors import (
    NP6AuthError,
    NP6DeadlineReached,
    NP6Error,
    NP6HTTPError,
    NP6NotFound,
    NP6Unreachable,
)
from .plan import RunPlan
from .windows import Window

log = logging.getLogger("np6.run")

UNAVAILABLE, FAILED, DEADLINE = "unavailable", "failed", "deadline"

T = TypeVar("T")


class GroupBudget:
    """How much one commit group of the event feed reads: it ends at the first window boundary
    past `rows` event rows (those read, and those the reads in flight are expected to bring) or
    `seconds` seconds. `windows_done` says how far it got."""

    def __init__(self, rows: int | None = None, seconds: float | None = None) -> None:
        self.rows, self.seconds = rows, seconds
        self.started = time.monotonic()
        self.rows_read = 0
        self.reads = 0
        self.spent = False  # set once `more` said no: the group stopped before its last window
        self.windows_done = 0

    def add(self, rows: int) -> None:
        """Count the rows of one finished read."""
        self.rows_read += rows
        self.reads += 1

    def more(self, in_flight: int = 0) -> bool:
        """True while the group may start reading another window, `in_flight` reads being on
        their way (counted at the average size of the reads so far: with four requests in
        flight, counting only finished reads let a group run two windows past its rows)."""
        expected = self.rows_read + (in_flight * self.rows_read / self.reads if self.reads else 0)
        within = (self.rows is None or expected < self.rows) and (
            self.seconds is None or time.monotonic() - self.started < self.seconds)
        self.spent = self.spent or not within
        return within


class Outcome(NamedTuple):
    """How a resource that did not finish ended: `status`, the endpoint, the one-line reason."""

    resource: str
    status: str
    endpoint: str
    http_status: int | None
    message: str


@dataclasses.dataclass
class RunContext:
    """The shared, per-run state of the NP6 source (see the module docstring).

    `feed_windows` is the share of the event feed's windows of the current commit group; None
    lets the feed plan its windows from the state (one `pipeline.run` of the whole plan).
    """

    plan: RunPlan
    client: NP6Client
    required: frozenset[str] = frozenset()  # outcome names whose 403/404 is a failure
    outcomes: dict[str, Outcome] = dataclasses.field(default_factory=dict)
    feed_windows: list[Window] | None = None
    budget: GroupBudget | None = None  # the current commit group's budget (None: read them all)
    warned: set[str] = dataclasses.field(default_factory=set)
    notes: dict[str, str] = dataclasses.field(default_factory=dict)  # e.g. why a read-back failed
    answers: dict[str, Any] = dataclasses.field(default_factory=dict)  # `once`'s, per key
    _lock: threading.Lock = dataclasses.field(default_factory=threading.Lock, repr=False)

    @classmethod
    def open(
        cls, plan: RunPlan, transport: httpx.BaseTransport | None = None, required: frozenset[str] = frozenset()
    ) -> RunContext:
        """The context of a run that starts now: its deadline counts from this call."""
        client = NP6Client(
            plan.base_url, plan.api_key, timeout=plan.timeout, concurrency=plan.concurrency,
            transport=transport, max_attempts=plan.max_attempts, backoff_base=plan.backoff_base,
            max_wait=plan.max_wait, max_total_wait=plan.max_total_wait,
            deadline=time.monotonic() + plan.deadline.total_seconds(),
        )  # fmt: skip
        return cls(plan, client, required)

    def for_group(self, windows: list[Window] | None, budget: GroupBudget | None = None) -> RunContext:
        """The same run (client, outcomes, warnings shared) reading `windows` of the feed, as
        far as `budget` allows."""
        return dataclasses.replace(self, feed_windows=windows, budget=budget)

    @property
    def deadline_passed(self) -> bool:
        """True once the run's deadline is behind us."""
        return self.client.deadline is not None and time.monotonic() >= self.client.deadline

    def stopped(self, resource: str) -> bool:
        """True when `resource` already stopped in this run (no further requests to it)."""
        with self._lock:
            return resource in self.outcomes

    def once(self, key: str, compute: Callable[[], T]) -> T:
        """`compute()` the first time `key` is asked in this run, the same answer after: a list
        several resources read (the field catalogue), a destination read several tables need."""
        with self._lock:
            if key in self.answers:
                return self.answers[key]  # type: ignore[no-any-return]
        answer = compute()
        with self._lock:
            return self.answers.setdefault(key, answer)  # type: ignore[no-any-return]

    def warn_once(self, key: str, message: str, *args: Any) -> None:
        """Log a warning the first time `key` is seen in this run."""
        with self._lock:
            if key in self.warned:
                return
            self.warned.add(key)
        log.warning(message, *args)

    def guard(
        self,
        resource: str,
        items: Iterator[Any],
        *,
        span: Window | None = None,
        on_stop: Callable[[Outcome, Window | None], Any] | None = None,
    ) -> Iterator[Any]:
        """Yield `items`; if the resource fails, record how and yield its bookkeeping row.

        Args:
            resource: the resource's name (in messages, `_np6_windows` and the summary).
            items: what the resource yields.
            span: the range the resource was to read, for its `_np6_windows` row.
            on_stop: what to yield instead of the `_np6_windows` row (the event feed yields a
                batch its transformers understand).
        """
        if self.stopped(resource):
            return
        try:
            yield from items
        except NP6Error as exc:
            outcome = self._judge(resource, exc, resource in self.required)
            with self._lock:
                self.outcomes[resource] = outcome
            if outcome.status == UNAVAILABLE:  # a failure is said once, in the run's closing line
                log.warning("%s %s: %s", resource, outcome.status, outcome.message)
            else:
                log.info("%s %s: %s", resource, outcome.status, outcome.message)
            made = on_stop(outcome, span) if on_stop else self.outcome_row(outcome, span)
            if made is not None:
                yield made

    def outcome_row(self, outcome: Outcome, span: Window | None) -> Any:
        """The `_np6_windows` row of a stopped resource (none for a deadline stop)."""
        if outcome.status == DEADLINE:
            return None
        return as_window_row(outcome_row(outcome.resource, outcome.endpoint, outcome.status, span,
                                         outcome.message, self.plan.now))  # fmt: skip

    @staticmethod
    def _judge(resource: str, exc: NP6Error, required: bool) -> Outcome:
        """The outcome for `exc`, or re-raise when the whole run must stop."""
        if isinstance(exc, NP6Unreachable) or (isinstance(exc, NP6AuthError) and exc.status != 403):
            raise exc
        if isinstance(exc, NP6DeadlineReached):
            return Outcome(resource, DEADLINE, "", None, str(exc))
        if not isinstance(exc, NP6HTTPError):
            raise exc
        missing = isinstance(exc, NP6NotFound) or exc.status == 403
        status = UNAVAILABLE if missing and not required else FAILED
        return Outcome(resource, status, exc.path, exc.status, str(exc))

    def close(self) -> None:
        """Close the client's connection pool."""
        self.client.close()
