"""Reactivities: request windows, the one-table shape and the cohort plan (no network)."""

from __future__ import annotations

from datetime import timedelta

import pendulum
import pytest

from sources.np6.config import NP6Settings
from sources.np6.cursors import WindowedRead, scopes
from sources.np6.errors import NP6ConfigError
from sources.np6.normalize import normalize_events
from sources.np6.plan import build_plan
from sources.np6.reactivities import (
    FAMILIES,
    REACTIVITY_SCHEMA,
    item_ids,
    reactivities,
    reactivity_params,
    reactivity_table,
)
from sources.np6.run import RunContext
from sources.np6.windows import Window
from tests.np6.test_normalize import HARD_BOUNCE, MIRROR_HIT, NOTIFICATION_OPTOUT

NOW = pendulum.datetime(2026, 10, 10, 12)
COHORT = Window(pendulum.datetime(2026, 10, 1), pendulum.datetime(2026, 10, 2))


def run_of(range_start=None, range_end=None, **overrides) -> RunContext:
    settings = NP6Settings()
    for key, value in {"api_key": "k", "start_date": "2026-09-01", **overrides}.items():
        setattr(settings, key, value)
    plan = build_plan(settings, resources=("action_reactivities",), range_start=range_start, range_end=range_end,
                      now=NOW)
    return RunContext(plan, None)  # type: ignore[arg-type]  # planning only: no client


def cohorts(run: RunContext, family: str, state: dict) -> list[Window]:
    spec = FAMILIES[family]
    return WindowedRead(run.plan, scopes([spec.resource], item_ids(run, spec)),
                        lookback=run.plan.reactivity_horizon, source_state=state).windows


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
    run = run_of()
    assert cohorts(run, "actions", {})[0].start == pendulum.datetime(2026, 9, 1)
    state = {"resources": {"action_reactivities": {"cursor": "2026-10-10T00:00:00Z"}}}
    again = cohorts(run, "actions", state)
    assert again[0].start == pendulum.datetime(2026, 10, 3)
    assert again[-1].end == NOW - timedelta(minutes=5)


def test_backfill_reads_the_range_and_per_action_scopes() -> None:
    run = run_of("2026-09-10", "2026-09-12", action_ids=["A", "B"])
    assert [w.start.day for w in cohorts(run, "actions", {})] == [10, 11]
    assert item_ids(run, FAMILIES["actions"]) == ("A", "B")
    assert item_ids(run, FAMILIES["notifications"]) is None  # notifications are account-wide


def test_resources_declare_no_key_their_tables_are_variants() -> None:
    # the `reactivities` rows carry their table's key (see the integration test); a key on the
    # resource itself would leak into its `_np6_windows` and `_np6_rejected` rows
    for family, name in (("actions", "action_reactivities"), ("notifications", "notification_reactivities")):
        resource = reactivities(run_of(), family)
        assert resource.name == name
        schema = resource.compute_table_schema()
        assert schema["write_disposition"] == "merge" and not schema.get("columns")
    with pytest.raises(NP6ConfigError, match="family"):
        reactivities(run_of(), "display")
