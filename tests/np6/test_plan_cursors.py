"""The run plan (settings parsed once, checked) and the cursors in dlt resource state."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
import pytest

from sources.np6.config import resolve_settings
from sources.np6.cursors import (
    Scope,
    WindowedRead,
    cursor_of,
    mark_done,
    plan_windows,
    reset,
    scopes,
)
from sources.np6.errors import NP6ConfigError
from sources.np6.plan import MAX_PLANNED_WINDOWS, RunPlan
from sources.np6.windows import Window
from tests.np6 import runs
from tests.np6.runs import NOW



def plan_of(range_start: Any = None, range_end: Any = None, **changes: Any) -> RunPlan:
    return runs.plan_of(range_start, range_end, **changes)


def test_relative_dates_are_resolved_once_against_the_run_now() -> None:
    plan = plan_of("-20d", start_date="-30d")
    assert plan.range_start == NOW - timedelta(days=20)
    assert plan.start_date == NOW - timedelta(days=30)
    # the same plan, read again later, names the same instants: the backfill key cannot drift
    assert plan_of("-20d").range_start == plan.range_start


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        pytest.param({"window": "30s"}, "shorter than the minimum of 1m", id="window-under-a-minute"),
        pytest.param({"window": "1ms"}, "shorter than the minimum", id="window-1ms"),
        pytest.param({"window": "soon"}, "window: cannot read 'soon'", id="window-unreadable"),
        pytest.param({"concurrency": 0}, "concurrency must be at least 1", id="concurrency-0"),
        pytest.param({"commit_every": 0}, "commit_every must be at least 1", id="commit-every-0"),
        pytest.param({"deadline": "-1h"}, "deadline: cannot read", id="deadline-negative"),
    ],
)
def test_settings_that_cannot_work_are_refused_in_one_line(changes: dict[str, Any], needle: str) -> None:
    with pytest.raises(NP6ConfigError) as caught:
        plan_of(**changes)
    assert needle in str(caught.value) and "\n" not in str(caught.value)


def test_a_plan_of_too_many_windows_is_refused_before_any_request() -> None:
    with pytest.raises(NP6ConfigError, match=f"over the limit of {MAX_PLANNED_WINDOWS:,}"):
        plan_of("2020-01-01", window="1m")


def test_end_before_start_is_refused() -> None:
    with pytest.raises(NP6ConfigError, match="is not after --start"):
        plan_of("2026-10-05", "2026-10-01")


def test_cli_values_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCES__NP6__API_KEY", "secret-key")
    monkeypatch.setenv("SOURCES__NP6__WINDOW", "6h")
    monkeypatch.setenv("SOURCES__NP6__RESOURCES", "hits,bounces")
    assert resolve_settings().window == "6h"
    assert resolve_settings(window="2h").window == "2h"
    assert resolve_settings().resources == "hits,bounces"


def test_a_missing_key_or_a_mistyped_value_is_one_line_without_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    from dlt.common.configuration.exceptions import ConfigFieldMissingException, ConfigValueCannotBeCoercedException

    from pipelines.failures import explain

    monkeypatch.delenv("SOURCES__NP6__API_KEY", raising=False)
    monkeypatch.chdir("/")  # no .dlt folder here
    with pytest.raises(ConfigFieldMissingException) as missing:
        resolve_settings()
    assert explain(missing.value) == (2, "no NP6 API key: set SOURCES__NP6__API_KEY or api_key in "
                                         ".dlt/secrets.toml [sources.np6]")
    monkeypatch.setenv("SOURCES__NP6__API_KEY", "secret-key")
    monkeypatch.setenv("SOURCES__NP6__CONCURRENCY", "abc")
    with pytest.raises(ConfigValueCannotBeCoercedException) as bad:
        resolve_settings()
    code, line = explain(bad.value, ("secret-key",))
    assert code == 2 and "SOURCES__NP6__CONCURRENCY" in line and "secret-key" not in line


# --- cursors ---------------------------------------------------------------------------------


def test_cursors_live_in_resource_state_and_never_move_back() -> None:
    plan, state = plan_of(start_date="2026-10-07"), {}
    hits = scopes(["hits"])
    windows = plan_windows(plan, state, hits)
    assert windows[0].start == pendulum.datetime(2026, 10, 7) and windows[-1].end == plan.bound
    mark_done(plan, state, hits, windows[1])
    assert state == {"resources": {"hits": {"cursor": "2026-10-09T00:00:00Z"}}}
    mark_done(plan, state, hits, windows[0])
    assert cursor_of(state, Scope("hits")) == pendulum.datetime(2026, 10, 9)
    again = plan_windows(plan, state, hits)
    assert again[0].start == pendulum.datetime(2026, 10, 8, 23)  # minus the 1h lookback


def test_the_oldest_scope_decides_and_a_new_scope_reads_from_start_date() -> None:
    plan = plan_of(start_date="2026-10-07")
    state = {"resources": {"hits": {"cursor": "2026-10-09T00:00:00Z"}}}
    assert plan_windows(plan, state, scopes(["hits", "bounces"]))[0].start == pendulum.datetime(2026, 10, 7)


def test_per_action_cursors_and_earlier_versions_state() -> None:
    plan = plan_of(start_date="2026-10-07")
    state: dict[str, Any] = {"cursors": {"hits@000PE4": "2026-10-09T00:00:00Z"}}
    scope = Scope("hits", "000PE4")
    assert cursor_of(state, scope) == pendulum.datetime(2026, 10, 9)  # read from the old place
    mark_done(plan, state, [scope], Window(pendulum.datetime(2026, 10, 9), pendulum.datetime(2026, 10, 10)))
    assert state == {"cursors": {}, "resources": {"hits": {"actions": {"000PE4": "2026-10-10T00:00:00Z"}}}}


def test_a_backfill_resumes_where_it_stopped_and_never_moves_the_cursor() -> None:
    plan = plan_of("2026-09-01", "2026-09-05")
    state: dict[str, Any] = {"resources": {"hits": {"cursor": "2026-10-09T00:00:00Z"}}}
    hits = scopes(["hits"])
    windows = plan_windows(plan, state, hits)
    assert len(windows) == 4
    mark_done(plan, state, hits, windows[1])
    assert plan_windows(plan, state, hits)[0] == windows[2]
    assert state["resources"]["hits"]["cursor"] == "2026-10-09T00:00:00Z"
    mark_done(plan, state, hits, windows[3])
    assert "backfills" not in state["resources"]["hits"]  # done: nothing left to resume
    assert plan_windows(plan, state, hits) == windows  # the same range again reads it whole


def test_reset_forgets_a_resource_like_dlt_drop_does() -> None:
    state: dict[str, Any] = {"resources": {"hits": {"cursor": "x"}, "bounces": {"cursor": "y"}},
                             "cursors": {"hits@000PE4": "z", "hitsx": "w"}}
    assert reset(state, "hits")
    assert state == {"resources": {"bounces": {"cursor": "y"}}, "cursors": {"hitsx": "w"}}
    assert not reset(state, "hits")


def test_windowed_read_tracks_windows_in_order() -> None:
    plan, state = plan_of(start_date="2026-10-07"), {}
    read = WindowedRead(plan, scopes(["archives"]), source_state=state)
    first, second = read.windows[0], read.windows[1]
    items = iter([(first, 1), (first, 2), (second, 3)])
    taken = []
    for window, value in read.track(items, lambda item: item[0]):
        taken.append(value)
        if value == 3:  # the first window is done once the second one started
            assert cursor_of(state, Scope("archives")) == first.end
    assert taken == [1, 2, 3]
    assert cursor_of(state, Scope("archives")) == read.windows[-1].end


def test_np6_load_help_lists_every_setting() -> None:
    from pipelines.cli import build_parser
    from sources.np6.config import SETTINGS_HELP, setting_env

    load = build_parser()._subparsers._group_actions[0].choices["load"]  # type: ignore[union-attr]
    text = load.format_help()
    for name in SETTINGS_HELP:
        if name != "api_key":  # a secret: never a flag, only the environment or secrets.toml
            assert f"--{name.replace('_', '-')}" in text and setting_env(name) in text, name
    assert "--api-key" not in text and "SOURCES__NP6__API_KEY" in text


def test_a_refused_load_job_is_told_by_its_error_not_its_traceback():
    from dlt.load.exceptions import LoadClientJobFailed

    from pipelines.failures import explain

    trace = ('Traceback (most recent call last):\n  File "x.py", line 1, in run\n    self.run()\n'
             "_duckdb.ConstraintException: Constraint Error: NOT NULL constraint failed: hits._dlt_id\n")  # fmt: skip
    code, line = explain(LoadClientJobFailed("1.2", "hits.abc.parquet", trace, RuntimeError("x")))
    assert code == 1
    assert line == ("the destination refused load job hits.abc.parquet: _duckdb.ConstraintException: "
                    "Constraint Error: NOT NULL constraint failed: hits._dlt_id")  # fmt: skip
