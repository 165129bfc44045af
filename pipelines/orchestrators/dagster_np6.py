"""NP6 in Dagster through the `dagster-dlt` integration: one multi-asset per resource family,
the windowed families partitioned by day.

    pip install 'np6-connector[dagster]'
    SOURCES__NP6__API_KEY=... dagster dev -m pipelines.orchestrators.dagster_np6

Each family has its own dlt pipeline (`np6_events`, `np6_archives`...), so Dagster may run them
at once; they load one dataset, each merging through its own staging dataset. A partition
`2026-10-01` loads `[2026-10-01, 2026-10-02)` as a backfill (`range_start`/`range_end`): re-running
a day replaces nothing but that day's rows (merge on id). `exports_and_contacts` read the event
tables already loaded, so they depend on the `events` assets. Settings come the dlt way
(SOURCES__NP6__*, DESTINATION__*); set RUNTIME__DLTHUB_TELEMETRY=false in the deployment to keep
dlt's telemetry off, as `np6` does.
"""

from collections.abc import Iterator
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext
from dagster_dlt import DagsterDltResource, DagsterDltTranslator, dlt_assets
from dagster_dlt.translator import DltResourceTranslatorData

from pipelines.np6_pipeline import make_pipeline
from pipelines.runner import loader_format
from sources.np6 import np6_source
from sources.np6.registry import BY_NAME, DEFAULT_RESOURCES

START = "2026-01-01"  # first partition; change to where your account's history starts
DAILY = dg.DailyPartitionsDefinition(start_date=START)
DESTINATION = "duckdb"  # or "postgres", ... configured the dlt way

# The registry's families of the default resources, as Dagster asset groups.
GROUP_OF = {"events": "events", "archives": "archives", "redlists": "redlists", "exports": "exports_and_contacts",
            "targets": "exports_and_contacts", "actions": "dimensions", "dimensions": "dimensions"}
FAMILIES: dict[str, tuple[str, ...]] = {}
for _name in DEFAULT_RESOURCES:
    _group = GROUP_OF[BY_NAME[_name].family]
    FAMILIES[_group] = (*FAMILIES.get(_group, ()), _name)
PARTITIONED = ("events", "archives", "redlists", "exports_and_contacts")
# The source is built again at run time with the key; at definition time only its resource
# names matter, so no key is needed to load these definitions.
_DEFINITION_KEY = "set-at-run-time"


def _asset_key(resource: str) -> dg.AssetKey:
    return dg.AssetKey(["np6", resource])


class NP6Translator(DagsterDltTranslator):
    """Asset keys `np6/<resource>`, grouped by family; exports and contacts after the events."""

    def __init__(self, family: str) -> None:
        super().__init__()
        self.family = family

    def get_asset_spec(self, data: DltResourceTranslatorData) -> dg.AssetSpec:
        spec = super().get_asset_spec(data)
        deps = [_asset_key(n) for n in FAMILIES["events"]] if self.family == "exports_and_contacts" else []
        return spec.replace_attributes(key=_asset_key(data.resource.name), group_name=self.family, deps=deps)


def _run_kwargs(context: AssetExecutionContext) -> dict[str, Any]:
    """A partition's day as the source's backfill range."""
    if not context.has_partition_key:
        return {}
    window = context.partition_time_window
    return {"range_start": window.start.isoformat(), "range_end": window.end.isoformat()}


def family_assets(family: str) -> dg.AssetsDefinition:
    """The dagster-dlt multi-asset of one family: one asset per table it loads."""
    pipeline = make_pipeline(f"np6_{family}", DESTINATION)
    names = list(FAMILIES[family])

    @dlt_assets(
        dlt_source=np6_source(api_key=_DEFINITION_KEY, resources=names),
        dlt_pipeline=pipeline,
        name=f"np6_{family}",
        dagster_dlt_translator=NP6Translator(family),
        partitions_def=DAILY if family in PARTITIONED else None,
    )
    def _assets(context: AssetExecutionContext, dlt: DagsterDltResource) -> Iterator[Any]:
        source = np6_source(resources=names, **_run_kwargs(context))
        yield from dlt.run(context=context, dlt_source=source, loader_file_format=loader_format(pipeline))

    return _assets


ASSETS = [family_assets(family) for family in FAMILIES]
defs = dg.Definitions(assets=ASSETS, resources={"dlt": DagsterDltResource()})
