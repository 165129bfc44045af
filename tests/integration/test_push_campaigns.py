"""End to end: notification events, reactivities and campaign events from the sandbox into DuckDB.

The pipelines run the source over one resource at a time (a run opened with `open_run`), run
twice over the same range, and what landed is compared with the sandbox's ground truth
(`np6_sandbox.push`, `.reactivities`, `.campaigns`), never with numbers copied from the code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dlt
import duckdb
import pendulum
import pytest

from sources.np6 import np6_source, open_run
from sources.np6.campaigns import CAMPAIGN_EVENTS, HIT_SUBTYPES, events_body
from sources.np6.push import NOTIFICATION_EVENT_TABLES, NOTIFICATION_EVENTS
from sources.np6.reactivities import REACTIVITIES_TABLE
from sources.np6.windows import tile
from sources.np6_sandbox import campaigns as sandbox_campaigns
from sources.np6_sandbox import push as sandbox_push
from sources.np6_sandbox import reactivities as sandbox_reactivities

START, END = "2026-10-01", "2026-10-04"
TYPE_TABLES = {"execution": "executions", "cancellation": "cancellations", "activation": "activations",
               "hit": "hits", "bounce": "bounces"}  # any other type: other_events


def ms(value: str) -> int:
    return int(pendulum.parse(value).timestamp() * 1000)


class Warehouse:
    """A DuckDB file and a dlt pipeline writing to it."""

    def __init__(self, root: Path) -> None:
        self.file = root / "warehouse.duckdb"
        self.pipeline = dlt.pipeline(
            pipeline_name="np6_push_test", pipelines_dir=str(root / "dlt"), dataset_name="np6",
            destination=dlt.destinations.duckdb(str(self.file)),
        )  # fmt: skip

    def run(self, sandbox: Any, resource: str, window: str = "1d") -> None:
        """Backfill [START, END) of one resource, as one `pipeline.run`."""
        run = open_run(api_key=sandbox.api_key, base_url=sandbox.url, start_date=START, range_start=START,
                       range_end=END, window=window, resources=[resource], decode_workers=0, concurrency=3)
        try:
            self.pipeline.run(np6_source(run))
        finally:
            run.close()

    def query(self, sql: str) -> list[tuple]:
        with duckdb.connect(str(self.file), read_only=True) as con:
            return con.sql(sql).fetchall()


@pytest.fixture
def warehouse(tmp_path: Path) -> Warehouse:
    return Warehouse(tmp_path)


def test_notification_events_land_in_the_event_tables(sandbox, warehouse):
    warehouse.run(sandbox, NOTIFICATION_EVENTS)
    truth = sandbox_push.notification_events(sandbox.account, ms(START), ms(END))
    assert truth
    loaded: dict[str, set[str]] = {}
    for table in NOTIFICATION_EVENT_TABLES:
        rows = warehouse.query(f"SELECT id, channel, action_id FROM np6.{table}")
        assert {r[1] for r in rows} == {"notification"}, table
        loaded[table] = {r[0] for r in rows}
    expected: dict[str, set[str]] = {t: set() for t in NOTIFICATION_EVENT_TABLES}
    for event in truth:
        expected[TYPE_TABLES.get(event["type"], "other_events")].add(event["id"])
    assert loaded == expected
    ids = {r[0] for r in warehouse.query("SELECT DISTINCT action_id FROM np6.activations")}
    assert ids == {str(n["id"]) for n in sandbox_push.notifications(sandbox.account)}
    receivers = warehouse.query("SELECT count(*) FROM np6.hits WHERE receiver_id IS NULL OR receiver_value IS NOT NULL")
    assert receivers == [(0,)]
    windows = warehouse.query("SELECT count(*), count(DISTINCT action_id) FROM np6._np6_windows "
                              "WHERE resource = 'notification_events'")
    assert windows == [(3 * 3, 3)]  # days x notifications: the sandbox has the all-types route
    before = {t: len(v) for t, v in loaded.items()}
    warehouse.run(sandbox, NOTIFICATION_EVENTS, "6h")  # overlapping, other windows: nothing new
    after = {t: warehouse.query(f"SELECT count(*) FROM np6.{t}")[0][0] for t in NOTIFICATION_EVENT_TABLES}
    assert after == before


@pytest.mark.parametrize("family", ["actions", "notifications"])
def test_reactivities_equal_the_servers_cohorts(sandbox, warehouse, family):
    resource = f"{family[:-1]}_reactivities"
    warehouse.run(sandbox, resource)
    expected = set()
    for cohort in tile(pendulum.parse(START), pendulum.parse(END), "1d"):
        found = sandbox_reactivities.reactivities(sandbox.account, family, cohort.start_ms, cohort.end_ms,
                                                  cohort.start_ms, None)
        expected |= {(e["id"], e["type"], cohort.start_ms) for e in found}
    assert expected
    rows = warehouse.query(f"SELECT id, event_type, epoch_ms(activation_start), family FROM np6.{REACTIVITIES_TABLE}")
    assert {r[:3] for r in rows} == expected and len(rows) == len(expected)
    assert {r[3] for r in rows} == {family}
    windows = warehouse.query(f"SELECT count(*), sum(rows) FROM np6._np6_windows WHERE resource = '{resource}'")
    assert windows == [(3, len(expected))]
    warehouse.run(sandbox, resource)
    assert warehouse.query(f"SELECT count(*) FROM np6.{REACTIVITIES_TABLE}") == [(len(expected),)]


def test_campaign_events_equal_the_servers(sandbox, warehouse):
    warehouse.run(sandbox, CAMPAIGN_EVENTS)
    campaigns = sandbox_campaigns.campaigns(sandbox.account)
    expected = set()
    for campaign in campaigns:
        found = sandbox_campaigns.campaign_events(sandbox.account, campaign["id"], events_body(campaign["items"]),
                                                  ms(START), ms(END))
        expected |= {(campaign["id"], e["id"], e["type"]) for e in found}
    # the campaigns hold every action between them: every action event of the range is there,
    # but hits of a link type outside the documented subtypes (the sandbox's `share`)
    every = [e for e in sandbox.account.events(ms(START), ms(END))
             if e["type"] != "hit" or e["source"]["detail"]["link"]["type"] in HIT_SUBTYPES]
    assert {e for _, e, _ in expected} == {e["id"] for e in every}
    links = warehouse.query(f"SELECT campaign_id, event_id, event_type FROM np6.{CAMPAIGN_EVENTS}")
    assert set(links) == expected and len(links) == len(expected)
    for kind, table in TYPE_TABLES.items():
        if table == "executions":
            continue
        ids = {r[0] for r in warehouse.query(f"SELECT id FROM np6.{table}")}
        assert ids == {e for _, e, t in expected if t == kind}, table
    windows = warehouse.query("SELECT count(*), count(DISTINCT action_id) FROM np6._np6_windows "
                              f"WHERE resource = '{CAMPAIGN_EVENTS}'")
    assert windows == [(3 * len(campaigns), len(campaigns))]
    warehouse.run(sandbox, CAMPAIGN_EVENTS)
    assert len(warehouse.query(f"SELECT 1 FROM np6.{CAMPAIGN_EVENTS}")) == len(expected)
    assert warehouse.query("SELECT count(*) FROM np6.hits")[0][0] == len({e for _, e, t in expected if t == "hit"})
