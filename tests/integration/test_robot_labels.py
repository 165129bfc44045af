"""Robot labels under every reading of the reference, each played by the sandbox.

The reference documents the hit filter `classification` but neither what the default feeds return
(robots included, or left out) nor where a hit names its class. The sandbox plays each reading
(`Faults.robots_in_default_feed`, `classification_at`, `robot_filter_status`); whatever it plays,
`hits.is_robot` must match its ground truth, and `hits.classification` must be the class wherever
the payload carries one.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import dlt
import duckdb
import pytest

from sources.np6 import np6_source
from sources.np6_sandbox import Faults
from tests.truth import ms

START, END = "2026-10-01", "2026-10-02"
MIXED = ["hits", "activations", "bounces", "cancellations", "executions", "other_events"]


def load_hits(tmp_path: Path, sandbox: Any, resources: list[str] = MIXED, **args: Any) -> dict[str, tuple]:
    """Load `[START, END)` (one window unless told); the hits as {id: (classification, is_robot)}."""
    path = tmp_path / "robots.duckdb"
    pipeline = dlt.pipeline("robots_it", destination=dlt.destinations.duckdb(str(path)), dataset_name="np6",
                            pipelines_dir=str(tmp_path / "dlt"))  # fmt: skip
    args = {"window": "1d", **args}
    source = np6_source(api_key=sandbox.api_key, base_url=sandbox.url, resources=resources, range_start=START,
                        range_end=END, decode_workers=0, **args)  # fmt: skip
    pipeline.run(source, loader_file_format="parquet")
    with duckdb.connect(str(path), read_only=True) as con:
        rows = con.sql("SELECT id, classification, is_robot FROM np6.hits").fetchall()
    assert len(rows) == len({r[0] for r in rows}), "one row per hit id"
    return {r[0]: (r[1], r[2]) for r in rows}


def truth(sandbox: Any, action_id: str | None = None) -> dict[str, str | None]:
    """The sandbox's hits of the range: {id: robot class or None}."""
    events = sandbox.account.events(ms(START), ms(END), types="hit", action_id=action_id)
    hits = {e["id"]: e["source"]["detail"].get("client", {}).get("classification") for e in events}
    assert any(hits.values()) and not all(hits.values())
    return hits


def robot_requests(sandbox: Any) -> list[dict]:
    return [r for r in sandbox.server.stats()["log"] if "classification=" in r["query"]]


READINGS = [
    pytest.param(True, "client", id="feed-has-robots/class-in-client"),
    pytest.param(False, "client", id="feed-omits-robots/class-in-client"),
    pytest.param(True, "detail", id="feed-has-robots/class-in-detail"),
    pytest.param(False, "top", id="feed-omits-robots/class-at-top-level"),
    pytest.param(True, "none", id="feed-has-robots/no-class-in-payload"),
    pytest.param(False, "none", id="feed-omits-robots/no-class-in-payload"),
]


@pytest.mark.parametrize(("robots_in_feed", "place"), READINGS)
def test_labels_match_the_truth_under_each_reading(make_sandbox, tmp_path, robots_in_feed, place):
    sandbox = make_sandbox(faults=Faults(robots_in_default_feed=robots_in_feed, classification_at=place))
    loaded, expected = load_hits(tmp_path, sandbox), truth(sandbox)
    assert set(loaded) == set(expected)
    assert {i: robot for i, (_, robot) in loaded.items()} == {i: c is not None for i, c in expected.items()}
    classes = {i: c for i, (c, _) in loaded.items()}
    assert classes == (expected if place != "none" else dict.fromkeys(expected))
    (robot_read,) = robot_requests(sandbox)  # one extra request for the one window
    assert robot_read["path"] == "/actions/events/hits"
    assert "genericrobot%2Cmpp%2Cgsr" in robot_read["query"] or "genericrobot,mpp,gsr" in robot_read["query"]


def test_per_action_runs_read_their_own_robots(make_sandbox, tmp_path):
    sandbox = make_sandbox(faults=Faults(robots_in_default_feed=False))
    action = sandbox.account.action_ids()[0]
    loaded, expected = load_hits(tmp_path, sandbox, ["hits"], action_ids=[action]), truth(sandbox, action)
    assert {i: c for i, (c, _) in loaded.items()} == expected
    assert [r["path"] for r in robot_requests(sandbox)] == [f"/actions/{action}/events/hits"]


@pytest.mark.parametrize("status", [403, 404])
def test_a_refused_robot_pass_degrades_to_payload_labels(make_sandbox, tmp_path, caplog, status):
    sandbox = make_sandbox(faults=Faults(robot_filter_status=status))
    with caplog.at_level(logging.WARNING, logger="np6.events"):
        loaded = load_hits(tmp_path, sandbox, window="6h", concurrency=1)
    assert {i: c for i, (c, _) in loaded.items()} == truth(sandbox)  # the payload says it all here
    warnings = [r for r in caplog.records if "robot pass" in r.getMessage()]
    assert len(warnings) == 1 and str(status) in warnings[0].getMessage()
    assert len(robot_requests(sandbox)) == 1  # not asked again in the run (4 windows)


def test_refused_pass_and_a_feed_without_robots_loads_the_humans(make_sandbox, tmp_path):
    sandbox = make_sandbox(faults=Faults(robots_in_default_feed=False, robot_filter_status=404))
    loaded, expected = load_hits(tmp_path, sandbox), truth(sandbox)
    assert set(loaded) == {i for i, c in expected.items() if c is None}


def test_the_robot_pass_can_be_turned_off(sandbox, tmp_path):
    loaded = load_hits(tmp_path, sandbox, robot_pass=False)
    assert {i: c for i, (c, _) in loaded.items()} == truth(sandbox)
    assert robot_requests(sandbox) == []


def test_the_filter_never_reaches_the_mixed_feed_nor_a_row(sandbox, tmp_path):
    loaded = load_hits(tmp_path, sandbox, hit_classification="mpp")
    mixed = [r for r in sandbox.server.stats()["log"] if r["path"] == "/actions/events"]
    assert mixed and all("classification" not in r["query"] for r in mixed)
    assert {c for c, _ in loaded.values()} <= {None, "mpp", "gsr", "genericrobot"}
