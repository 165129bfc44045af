"""Campaign events: the events of a campaign's actions, read with `POST /campaigns/{id}/events`.

A campaign groups actions (its `items`, np6-api.md §3.19). `POST /campaigns/{id}/events?start&end
&sort` (§3.4) answers the events of the items named in a JSON body, per channel and event type::

    {"itemsEvents": [{"type": "email",
                      "events": [{"type": "activation"},
                                 {"type": "hit", "subtypes": ["open", "redirection", ...]}, ...],
                      "items": ["000PE4", "000PE5"]}]}

The `campaign_events` resource lists the campaigns (`GET /campaigns`: the list path is not in the
reference, it is the one the create route implies), builds that body from each campaign's items
(`events_body`; the event selectors are data, `CAMPAIGN_EVENT_SELECTORS`) and reads one request
per campaign and `[start, end)` window under its own cursor `campaign_events`. Rows go to the
ordinary event tables (`hits`, `activations`, …): they are the same events the action feeds read,
so merge on `id` keeps one row each. The link table `campaign_events` (`campaign_id`, `event_id`,
`event_type`, `timestamp`; key `(campaign_id, event_id)`) says which events belong to which
campaign. The reference types `items` as int32 but its example (and every action id) is a
string: ids are sent as the strings the campaign lists.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple
from urllib.parse import quote

import dlt
import pyarrow as pa
from dlt.sources import DltResource

from .bookkeeping import as_rejected_rows, as_window_row, for_table, window_row
from .client import Fetched, NP6Client
from .cursors import WindowedRead, scopes
from .errors import expect_array
from .normalize import TABLE_FOR_TYPE, Normalized, normalize_events
from .parallel import ordered_map
from .run import RunContext
from .windows import Window

log = logging.getLogger("np6.campaigns")


CAMPAIGN_EVENTS = "campaign_events"  # resource, link table and cursor scope
CAMPAIGNS_PATH = "/campaigns"  # GUESS: the list path is not in the reference (§3.19)
CAMPAIGN_EVENTS_PATH = "/campaigns/{campaign_id}/events"
HIT_SUBTYPES = ("open", "redirection", "mirror", "form", "unsubscribe")
# Every event type of the reference's enum an email/SMS action produces (np6-api.md §3.1).
CAMPAIGN_EVENT_SELECTORS: tuple[dict[str, Any], ...] = (
    {"type": "activation"},
    {"type": "hit", "subtypes": list(HIT_SUBTYPES)},
    {"type": "bounce"},
    {"type": "cancellation"},
    {"type": "execution"},
    {"type": "complaint"},
    {"type": "reply"},
)
LINK_KEY = ("campaign_id", "event_id")
LINK_SCHEMA = pa.schema([
    pa.field("campaign_id", pa.string(), nullable=False), pa.field("event_id", pa.string(), nullable=False),
    pa.field("event_type", pa.string()), pa.field("timestamp", pa.timestamp("us", tz="UTC")),
])  # fmt: skip
_TYPE_OF_TABLE = {table: kind for kind, table in TABLE_FOR_TYPE.items()}
EVENT_COLUMNS = {"extra": {"data_type": "json"}}  # as the event tables declare it


# --- pure ------------------------------------------------------------------------------------


def events_body(items: Any, action_ids: Sequence[str] | None = None) -> dict[str, Any] | None:
    """The request body for a campaign's `items` (`[{"type": "email", "id": "000PE4"}, ...]`).

    One `itemsEvents` entry per channel, in first-seen order; with `action_ids`, only those
    actions. None when no item is left (nothing to ask).
    """
    by_channel: dict[str, list[str]] = {}
    for item in items if isinstance(items, list) else ():
        if not isinstance(item, dict) or item.get("type") is None or item.get("id") in (None, ""):
            continue
        item_id = str(item["id"])
        if action_ids is None or item_id in action_ids:
            by_channel.setdefault(str(item["type"]), []).append(item_id)
    if not by_channel:
        return None
    return {
        "itemsEvents": [
            {"type": channel, "events": [dict(s) for s in CAMPAIGN_EVENT_SELECTORS], "items": ids}
            for channel, ids in by_channel.items()
        ]
    }


def link_table(campaign_id: str, tables: Mapping[str, pa.Table]) -> pa.Table | None:
    """The `campaign_events` rows of one response: which events (id, type, time) the campaign holds."""
    parts = []
    for name, table in tables.items():
        n = table.num_rows
        kinds = table.column("event_type") if "event_type" in table.column_names else [_TYPE_OF_TABLE.get(name)] * n
        parts.append(pa.Table.from_arrays(
            [pa.array([campaign_id] * n, pa.string()), table.column("id"), pa.array(kinds, pa.string()),
             table.column("timestamp")], schema=LINK_SCHEMA))  # fmt: skip
    return pa.concat_tables(parts) if parts else None


class CampaignUnit(NamedTuple):
    """One request: a campaign, its body and one window."""

    campaign_id: str
    body: dict[str, Any]
    window: Window

    @property
    def path(self) -> str:
        """`/campaigns/{id}/events`, the id percent-encoded."""
        return CAMPAIGN_EVENTS_PATH.format(campaign_id=quote(self.campaign_id, safe=""))


def plan_campaign_units(
    windows: Sequence[Window], campaigns: Iterable[Any], action_ids: Sequence[str] | None = None
) -> list[CampaignUnit]:
    """One unit per window and campaign with items (campaigns without an id or items are skipped)."""
    bodies = []
    for campaign in campaigns:
        if not isinstance(campaign, dict) or campaign.get("id") in (None, ""):
            continue
        body = events_body(campaign.get("items"), action_ids)
        if body is not None:
            bodies.append((str(campaign["id"]), body))
    return [CampaignUnit(cid, body, window) for window in windows for cid, body in bodies]


# --- reads -----------------------------------------------------------------------------------


def list_campaigns(client: NP6Client) -> list[Any]:
    """Every campaign of the account (`GET /campaigns`, a guessed path)."""
    data, fetched = client.get_json(CAMPAIGNS_PATH, context="campaign list")
    return expect_array(data, f"GET {CAMPAIGNS_PATH}", "campaigns", path=CAMPAIGNS_PATH, status=fetched.status)


class CampaignBatch(NamedTuple):
    """What one campaign request produced."""

    unit: CampaignUnit
    normalized: Normalized
    fetched: Fetched


def read_campaign_unit(client: NP6Client, unit: CampaignUnit) -> CampaignBatch:
    """POST one campaign window and normalize the events."""
    params = {"start": unit.window.iso_start, "end": unit.window.iso_end, "sort": "asc"}
    data, fetched = client.post_json(unit.path, params, unit.body, context=str(unit.window))
    events = expect_array(data, f"POST {unit.path} {unit.window}", "events", path=unit.path, status=fetched.status)
    return CampaignBatch(unit, normalize_events(events), fetched)


def batch_items(batch: CampaignBatch) -> Iterator[Any]:
    """Event table rows, link rows, rejected elements and the `_np6_windows` row of one request."""
    unit, normalized = batch.unit, batch.normalized
    for note in normalized.drift:
        log.warning("type change on POST %s %s: %s", unit.path, unit.window, note)
    for name, table in normalized.tables.items():
        yield for_table(table, name, "id", EVENT_COLUMNS)
    links = link_table(unit.campaign_id, normalized.tables)
    if links is not None:
        yield for_table(links, CAMPAIGN_EVENTS, LINK_KEY)
    yield from as_rejected_rows(unit.path, unit.window, normalized.rejected)
    rows = sum(t.num_rows for t in normalized.tables.values())
    yield as_window_row(window_row(CAMPAIGN_EVENTS, unit.path, unit.window, batch.fetched, rows,
                                   action_id=unit.campaign_id, rejected=len(normalized.rejected),
                                   type_changes="; ".join(normalized.drift) or None))  # fmt: skip


def campaign_events(run: RunContext) -> DltResource:
    """The events of every campaign in the planned windows (resource `campaign_events`).

    Rows land in the event tables and in the `campaign_events` link table; the plan's
    `action_ids`, when given, restricts each campaign's items to those actions.
    """

    def batches(read: WindowedRead) -> Iterator[Any]:
        client = run.client
        units = plan_campaign_units(read.windows, list_campaigns(client), run.plan.action_ids) if read.windows else []
        reads = ordered_map(lambda unit: read_campaign_unit(client, unit), units, run.plan.concurrency)
        for done, batch in enumerate(read.track(reads, lambda b: b.unit.window), start=1):
            yield from batch_items(batch)
            log.info("campaign %s %s [%d/%d]", batch.unit.campaign_id, batch.unit.window, done, len(units))

    def read() -> Iterator[Any]:
        read = WindowedRead(run.plan, scopes([CAMPAIGN_EVENTS]))
        yield from run.guard(CAMPAIGN_EVENTS, batches(read), span=read.span)

    # no key or columns here: every table it writes is a variant with its own (`for_table`)
    return dlt.resource(read, name=CAMPAIGN_EVENTS, write_disposition="merge")
