"""Run contexts for unit tests: a plan built from settings, around a client the test made."""

from __future__ import annotations

from typing import Any

import pendulum

from sources.np6.client import NP6Client
from sources.np6.config import NP6Settings
from sources.np6.plan import RunPlan, build_plan
from sources.np6.run import RunContext

NOW = pendulum.datetime(2026, 10, 10, 12, 0, tz="UTC")


def settings(**changes: Any) -> NP6Settings:
    """The default settings with a key and `changes`."""
    base = NP6Settings()
    base.api_key = "k"
    for key, value in changes.items():
        setattr(base, key, value)
    return base


def plan_of(range_start: Any = None, range_end: Any = None, *, resources: tuple[str, ...] = ("hits",),
            now: pendulum.DateTime = NOW, **changes: Any) -> RunPlan:
    """A plan of `resources` at `now`, a backfill when `range_start`/`range_end` are given."""
    return build_plan(settings(**changes), resources=resources, range_start=range_start, range_end=range_end,
                      now=now)


def run_with(client: NP6Client | None, **changes: Any) -> RunContext:
    """A run around `client` (None: planning only, no request may be sent)."""
    return RunContext(plan_of(**changes), client)  # type: ignore[arg-type]
