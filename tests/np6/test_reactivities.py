"""Reactivities: request windows, the one-table shape and the cohort plan (no network)."""

from __future__ import annotations

from datetime import timedelta

import pendulum
import pytest

from sources.np6 import feed_config
from sources.np6.errors import NP6ConfigError
from sources.np6.events import plan_feed
from sources.np6.normalize import normalize_events
from sources.np6.reactivities import (
    FAMILIES,
    REACTIVITY_SCHEMA,
    reactivities,
    reactivity_config,
    reactivity_params,
    reactivity_table,
)
from sources.np6.windows import Window
from tests.np6.test_normalize import HARD_BOUNCE, MIRROR_HIT, NOTIFICATION_OPTOUT

NOW = pendulum.datetime(2026, 10, 10, 12)
COHORT = Window(pendulum.datetime(2026, 10, 1), pendulum.datetime(2026, 10, 2))


def config(**overrides):
    settings = dict(tables=(), action_ids=None, hit_classification=None, window="1d", start_date="2026-09-01",
                    lookback="1h", safety_margin="5m")
    return feed_config(**{**settings, **overrides})


def test_params_bound_the_cohort_and_the_reactions() -> None:
    assert reactivity_params(COHORT, NOW) == {
        "activationStart": "2026-10-01T00:00:00Z", "activationEnd": "2026-10-02T00:00:00Z",
        "reactivityStart": "2026-10-01T00:00:00Z", "reactivityEnd": "2026-10-10T12:00:00Z", "sort": "asc"}


def test_every_type_lands_in_one_table_with_its_type_and_cohort() -> None:
    optout = {**NOTIFICATION_OPTOUT, "id": "optout-1"}  # the doc's optout reuses the bounce's id
    normalized = normalize_events([MIRROR_HIT, HARD_BOUNCE, optout])
    table = reactivity_table(normalized.tables, "actions", COHORT)
    assert table.schema == REACTIVITY_SCHEMA
    rows = {r["id"]: r for r in table.to_pylist()}
    assert {r["event_type"] for r in rows.values()} == {"hit", "bounce", "optout"}
    assert rows[MIRROR_HIT["id"]]["hit_type"] == "mirror"
    assert rows[HARD_BOUNCE["id"]]["bounce_verdict"] == "hard"
    assert rows[HARD_BOUNCE["id"]]["hit_type"] is None
    assert {(r["family"], r["activation_start"], r["activation_end"]) for r in rows.values()} == {
        ("actions", COHORT.start, COHORT.end)}
    assert REACTIVITY_SCHEMA.names[-1] == "extra" and "event_type" in REACTIVITY_SCHEMA.names
    assert reactivity_table({}, "actions", COHORT) is None


def test_scheduled_cohorts_start_a_horizon_before_the_cursor() -> None:
    scoped = reactivity_config(config(), FAMILIES["actions"], timedelta(days=7))
    first = plan_feed(scoped, {}, NOW)
    assert first.windows[0].start == pendulum.datetime(2026, 9, 1)
    state = {"cursors": {"action_reactivities": "2026-10-10T00:00:00Z"}}
    again = plan_feed(scoped, state, NOW)
    assert again.windows[0].start == pendulum.datetime(2026, 10, 3)
    assert again.windows[-1].end == NOW - timedelta(minutes=5)


def test_backfill_reads_the_range_and_per_action_scopes() -> None:
    scoped = reactivity_config(config(range_start="2026-09-10", range_end="2026-09-12", action_ids=["A", "B"]),
                               FAMILIES["actions"], timedelta(days=7))
    plan = plan_feed(scoped, {"cursors": {}}, NOW)
    assert [w.start.day for w in plan.windows] == [10, 11]
    assert scoped.backfill_key and "action_reactivities@A" in scoped.backfill_key
    notifications = reactivity_config(config(action_ids=["A"]), FAMILIES["notifications"], timedelta(days=1))
    assert notifications.action_ids is None and notifications.tables == ("notification_reactivities",)


def test_resources_declare_no_key_their_tables_are_variants() -> None:
    # the `reactivities` rows carry their table's key (see the integration test); a key on the
    # resource itself would leak into its `_np6_windows` and `_np6_rejected` rows
    for family, name in (("actions", "action_reactivities"), ("notifications", "notification_reactivities")):
        resource = reactivities(None, config(), family)
        assert resource.name == name
        schema = resource.compute_table_schema()
        assert schema["write_disposition"] == "merge" and not schema.get("columns")
    with pytest.raises(NP6ConfigError, match="family"):
        reactivities(None, config(), "display")
