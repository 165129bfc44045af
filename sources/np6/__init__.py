"""dlt source for the NP6 (Chapsvision CM) API: actions and notifications with their events,
recipient exports, archives, contacts and the account's dimensions.

Tables (see DATA-MODEL.md): the event tables `hits`, `activations`, `bounces`, `cancellations`,
`executions`, `other_events` (email, SMS and push notification events); `action_recipients`,
`action_openers`, `action_clickers`; `archives`; `targets`, `target_bounces`, `redlists`; the
opt-in `reactivities` and `campaign_events`; the dimensions `actions`, `notifications`,
`campaigns`, `fields`, `value_lists`, `segments`, `imports`, `mobile_applications`,
`marketing_pressure_topics`, `marketing_pressure_rules`; the bookkeeping tables `_np6_windows`
and `_np6_rejected`. Every resource is a row of `registry.REGISTRY`.

    pipeline = dlt.pipeline("np6", destination="duckdb", dataset_name="np6")
    pipeline.run(np6_source(), loader_file_format="parquet")

Settings come the dlt way (`config.NP6Settings`): `[sources.np6]` in `.dlt/config.toml` /
`.dlt/secrets.toml` or `SOURCES__NP6__<NAME>` environment variables; keyword arguments win.
The runner (`pipelines/runner.py`) opens one `RunContext` per run and passes it to the source of
every commit group instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dlt
from dlt.sources import DltResource

from .config import resolve_settings
from .errors import NP6ConfigError, NP6Error
from .plan import RunPlan, build_plan
from .registry import REQUIRED, build, select_resources
from .run import RunContext
from .schema import ask_for_dlt_columns, curated_schema
from .settings import SOURCE_NAME

__all__ = ["np6_source", "open_run", "NP6Error", "NP6ConfigError", "select_resources", "RunContext", "RunPlan"]


def open_run(
    *, range_start: Any = None, range_end: Any = None, transport: Any = None, now: Any = None, **settings: Any
) -> RunContext:
    """Resolve the settings (keyword arguments win over dlt's providers), plan the run once and
    open its context: one client, one deadline for every commit group.

    Raises:
        NP6ConfigError: a setting that cannot work, in one line.
    """
    resolved = resolve_settings(**settings)
    names = select_resources(resolved.resources)
    plan = build_plan(resolved, resources=names, range_start=range_start, range_end=range_end, now=now)
    return RunContext.open(plan, transport=transport, required=REQUIRED)


@dlt.source(name=SOURCE_NAME, max_table_nesting=0)
def np6_source(run: Any = None, resources: Sequence[str] | None = None, **settings: Any) -> list[DltResource]:
    """NP6 actions and events, windowed and incremental.

    Args:
        run: the run's context (`open_run`); when left out, one is opened from `settings`.
        resources: the resources of this source, a subset of the run's (a commit group's share);
            default: every resource of the run.
        settings: any `[sources.np6]` setting, plus `range_start`/`range_end` (a backfill) and
            `transport` (an httpx transport instead of the network, for tests).
    """
    if run is None:
        run = open_run(resources=resources, **settings)
        resources = None
    curated = curated_schema()
    if curated is not None:  # the warehouse contract, without dlt re-reading a file (`schema.py`)
        dlt.current.source_schema().update_schema(curated)
        ask_for_dlt_columns()
    return build(run, resources if resources is not None else run.plan.resources)
