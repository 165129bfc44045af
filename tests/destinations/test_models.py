"""The SQL models against the sandbox's own ground truth, on DuckDB and on a real PostgreSQL.

One load of the sandbox account per destination (the runner creates the views after it); every
figure of every model is then recomputed here in Python from the sandbox's events (its `Account`
and push notification events), never by running the same SQL.
"""

from __future__ import annotations

import statistics
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import dlt
import psycopg2
import pytest

from sources.np6.models import MODEL_NAMES, models
from pipelines.runner import load_once
from sources.np6_sandbox import SandboxServer, push
from tests.conftest import SANDBOX_SPEC, _account
from tests.truth import ms

START, END = "2026-10-01", "2026-10-04"
RESOURCES = "actions,notifications,hits,activations,bounces,notification_events,targets"


def _target(receiver: dict[str, Any]) -> str | None:
    """`coalesce(receiver_id, receiver_value)` of a receiver, as the connector maps it."""
    if receiver.get("type") == "contact":
        return _target(receiver["value"])
    return receiver.get("id") or receiver.get("value")


class Event:
    """The figures' view of one sandbox event."""

    def __init__(self, event: dict[str, Any]) -> None:
        detail = event["source"]["detail"]
        carrier = detail.get("activation") or detail.get("execution") or {}
        self.type, self.channel = event["type"], event["source"]["type"]
        self.action = str(carrier.get("id"))
        self.at = datetime.fromtimestamp(event["timestamp"] / 1000, UTC)
        self.day: date = self.at.date()
        self.target = _target(carrier.get("receiver") or carrier.get("recipient") or {})
        self.recipient = carrier.get("recipient") if isinstance(carrier.get("recipient"), str) else None
        self.hit = (detail.get("link") or {}).get("type")
        self.url = (detail.get("link") or {}).get("url")
        self.robot = bool((detail.get("client") or {}).get("classification"))
        self.verdict = ((detail.get("bounce") or {}).get("analysis") or {}).get("verdict")

    def human(self, hit_type: str) -> bool:
        return self.type == "hit" and self.hit == hit_type and not self.robot


@pytest.fixture(scope="module")
def events() -> list[Event]:
    account = _account(SANDBOX_SPEC)
    raw = account.events(ms(START), ms(END)) + push.notification_events(account, ms(START), ms(END))
    return [Event(e) for e in raw]


def _load(destination: Any, root: Path, dataset: str) -> dlt.Pipeline:
    with SandboxServer(_account(SANDBOX_SPEC)).start() as server:
        pipeline = dlt.pipeline(f"models_{uuid.uuid4().hex[:8]}", destination=destination,
                                dataset_name=dataset, pipelines_dir=str(root / "dlt"))  # fmt: skip
        load_once(pipeline, resources=RESOURCES, progress=lambda _: None, api_key=server.api_key,
                 base_url=server.url, start_date=START, range_start=START, range_end=END)  # fmt: skip
    return pipeline


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def loaded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A query function over the dataset of one load, per destination."""
    root = tmp_path_factory.mktemp(request.param)
    if request.param == "duckdb":
        pipeline = _load(dlt.destinations.duckdb(str(root / "w.duckdb")), root, "np6")
    else:
        dsn = request.getfixturevalue("postgres_dsn")
        pipeline = _load(dlt.destinations.postgres(dsn), root, f"np6_models_{uuid.uuid4().hex[:8]}")

    def query(sql: str) -> list[tuple]:
        with pipeline.sql_client() as client:
            return [tuple(r) for r in client.execute_sql(sql.replace("{ds}", pipeline.dataset_name)) or ()]

    query.pipeline = pipeline  # type: ignore[attr-defined]
    yield query
    if request.param == "postgres":
        with psycopg2.connect(request.getfixturevalue("postgres_dsn")) as con, con.cursor() as cur:
            cur.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE %s", (pipeline.dataset_name + "%",))
            for (schema,) in cur.fetchall():
                cur.execute(f'DROP SCHEMA "{schema}" CASCADE')


def _rows(query: Any, sql: str) -> dict[Any, tuple]:
    """{key: figures} of `SELECT key..., figures... FROM ...`, the key being the first `n` columns."""
    return {r[0] if len(r[0]) > 1 else r[0][0]: r[1] for r in query(sql)}


def test_engagement_by_action(loaded, events):
    sends, hard, soft, robot_opens = Counter(), Counter(), Counter(), Counter()
    openers, clickers, unsubscribed = defaultdict(set), defaultdict(set), defaultdict(set)
    sent_at: dict[str, list[datetime]] = defaultdict(list)
    for e in events:
        if e.type == "activation":
            sends[e.action] += 1
            sent_at[e.action].append(e.at)
        elif e.type == "bounce":
            (hard if e.verdict == "hard" else soft if e.verdict == "soft" else Counter())[e.action] += 1
        elif e.type == "hit":
            for hit_type, who in (("open", openers), ("redirection", clickers), ("unsubscribe", unsubscribed)):
                if e.human(hit_type) and e.target:
                    who[e.action].add(e.target)
            robot_opens[e.action] += e.hit == "open" and e.robot
    actions = {e.action for e in events if e.type in ("activation", "bounce", "hit")}
    expected = {a: (sends[a], hard[a], soft[a], len(openers[a]), len(clickers[a]), robot_opens[a],
                    len(unsubscribed[a]), min(sent_at[a], default=None), max(sent_at[a], default=None))
                for a in actions}  # fmt: skip
    got = loaded("SELECT action_id, sends, hard_bounces, soft_bounces, unique_human_openers, unique_human_clickers, "
                 "robot_opens, unsubscribes, first_send_at, last_send_at, human_open_rate, click_rate, "
                 "click_to_open_rate, action_name, channel FROM {ds}.engagement_by_action")
    assert {r[0]: r[1:8] + tuple(_utc(t) for t in r[8:10]) for r in got} == expected
    assert sum(robot_opens.values()) > 0  # robots exist, and are kept out of the human figures
    for r in got:
        assert r[10] == pytest.approx(r[4] / r[1] if r[1] else None)
        assert r[11] == pytest.approx(r[5] / r[1] if r[1] else None)
        assert r[12] == pytest.approx(r[5] / r[4] if r[4] else None)
    names = {a["id"]: a["name"] for a in _account(SANDBOX_SPEC).actions()}
    assert {r[0]: r[13] for r in got if r[14] != "notification"} == {a: names[a] for a in actions if a in names}
    assert all(r[13] for r in got)  # push notifications are named from `notifications`


def test_engagement_daily(loaded, events):
    expected: dict[tuple, list] = defaultdict(lambda: [0, 0, 0, 0, 0, set(), 0, set()])
    for e in events:
        if e.type not in ("activation", "bounce") and not (e.type == "hit" and e.hit in ("open", "redirection")):
            continue
        row = expected[(e.day, e.action)]
        if e.type == "activation":
            row[0] += 1
        elif e.type == "bounce":
            row[1] += e.verdict == "hard"
            row[2] += e.verdict == "soft"
        elif e.hit == "open":
            row[3 if not e.robot else 4] += 1
            if not e.robot and e.target:
                row[5].add(e.target)
        elif not e.robot:
            row[6] += 1
            if e.target:
                row[7].add(e.target)
    want = {k: (*v[:5], len(v[5]), v[6], len(v[7])) for k, v in expected.items()}
    got = loaded("SELECT day, action_id, sends, hard_bounces, soft_bounces, human_opens, robot_opens, "
                 "unique_human_openers, human_clicks, unique_human_clickers FROM {ds}.engagement_daily")
    assert {(_day(r[0]), r[1]): r[2:] for r in got} == want


def test_link_clicks(loaded, events):
    expected: dict[tuple, list] = defaultdict(lambda: [0, set(), 0])
    for e in (e for e in events if e.type == "hit" and e.hit == "redirection"):
        row = expected[(e.action, e.url)]
        if e.robot:
            row[2] += 1
        else:
            row[0] += 1
            row[1] |= {e.target} if e.target else set()
    got = loaded("SELECT action_id, link_url, human_clicks, unique_human_clickers, robot_clicks FROM {ds}.link_clicks")
    assert {(r[0], r[1]): r[2:] for r in got} == {k: (v[0], len(v[1]), v[2]) for k, v in expected.items()}
    assert any(v[2] for v in expected.values())


def test_deliverability_by_domain(loaded, events):
    expected: dict[tuple, list] = defaultdict(lambda: [0, 0, 0])
    for e in events:
        if e.channel != "email" or not e.recipient or "@" not in e.recipient or e.type not in ("activation", "bounce"):
            continue
        row = expected[(e.recipient.split("@")[1].lower(), e.day)]
        row[0 if e.type == "activation" else 1 if e.verdict == "hard" else 2] += e.type == "activation" or e.verdict in ("hard", "soft")
    got = loaded("SELECT domain, day, sends, hard_bounces, soft_bounces, bounce_rate FROM {ds}.deliverability_by_domain")
    assert {(r[0], _day(r[1])): r[2:5] for r in got} == {k: tuple(v) for k, v in expected.items()}
    for r in got:
        assert r[5] == pytest.approx((r[3] + r[4]) / r[2] if r[2] else None)


def test_open_delay(loaded, events):
    sent: dict[tuple, datetime] = {}
    opened: dict[tuple, datetime] = {}
    for e in events:
        key = (e.action, e.target)
        if e.type == "activation":
            sent[key] = min(sent.get(key, e.at), e.at)
        elif e.human("open"):
            opened[key] = min(opened.get(key, e.at), e.at)
    delays: dict[str, list[float]] = defaultdict(list)
    for key, at in opened.items():
        if key in sent and at >= sent[key]:
            delays[key[0]].append((at - sent[key]).total_seconds())
    got = loaded("SELECT action_id, openers_measured, median_seconds, p90_seconds FROM {ds}.open_delay")
    assert {r[0]: r[1] for r in got} == {a: len(d) for a, d in delays.items()}
    for action, _, median, p90 in got:
        assert float(median) == pytest.approx(statistics.median(delays[action]))
        assert float(p90) == pytest.approx(_percentile(delays[action], 0.9))


def test_contact_engagement(loaded, events):
    expected: dict[str, list] = defaultdict(lambda: [0, 0, 0, None, None])
    for e in events:
        if not e.target or not (e.type in ("activation", "bounce") or e.human("open") or e.human("redirection")):
            continue
        row = expected[e.target]
        if e.type == "activation":
            row[0] += 1
        elif e.type == "bounce":
            row[1] += e.verdict == "hard"
            row[2] += e.verdict == "soft"
        else:
            i = 3 if e.hit == "open" else 4
            row[i] = max(row[i] or e.at, e.at)
    got = loaded("SELECT target_id, sends, hard_bounces, soft_bounces, last_human_open_at, last_human_click_at, "
                 "last_engagement_at, days_since_last_engagement FROM {ds}.contact_engagement")
    assert {r[0]: (*r[1:4], _utc(r[4]), _utc(r[5])) for r in got} == {k: tuple(v) for k, v in expected.items()}
    today = datetime.now(UTC).date()
    for r in got:
        engaged = max((t for t in (_utc(r[4]), _utc(r[5])) if t), default=None)
        assert _utc(r[6]) == engaged
        assert r[7] == (None if engaged is None else (today - engaged.date()).days)


def test_views_are_replaced_idempotently_and_described(loaded):
    from sources.np6.models import create_models  # noqa: F401 - the runner already ran it once

    names = {r[0] for r in loaded("SELECT table_name FROM information_schema.views WHERE table_schema = '{ds}'")}
    assert names == set(MODEL_NAMES)
    for model in models():
        columns = [r[0] for r in loaded("SELECT column_name FROM information_schema.columns WHERE "
                                        f"table_schema = '{{ds}}' AND table_name = '{model.name}' "
                                        "ORDER BY ordinal_position")]  # fmt: skip
        assert columns == list(model.columns), model.name


def test_views_as_they_were_are_left_alone_and_made_again_when_dropped_or_changed(loaded, monkeypatch):
    import sources.np6.models as module

    pipeline, said = loaded.pipeline, []
    views = "SELECT table_name FROM information_schema.views WHERE table_schema = '{ds}'"
    assert module.create_models(pipeline, said.append) == list(MODEL_NAMES)
    assert said[-1].endswith("as they were)"), said

    loaded('DROP VIEW "{ds}"."link_clicks"')
    assert "link_clicks" not in {r[0] for r in loaded(views)}
    assert module.create_models(pipeline, said.append) == list(MODEL_NAMES)
    assert not said[-1].endswith("as they were)"), said
    assert {r[0] for r in loaded(views)} == set(MODEL_NAMES)

    first, *rest = module.models()
    changed = first._replace(select=f"SELECT 1 AS changed, m.* FROM ({first.select}) AS m")
    monkeypatch.setattr(module, "models", lambda: (changed, *rest))
    module.create_models(pipeline, said.append)
    assert not said[-1].endswith("as they were)"), said
    assert ("changed",) in loaded("SELECT column_name FROM information_schema.columns WHERE "
                                  f"table_schema = '{{ds}}' AND table_name = '{first.name}'")  # fmt: skip
    monkeypatch.undo()
    module.create_models(pipeline, said.append)  # as the other tests of this module expect them


def _utc(value: Any) -> datetime | None:
    return None if value is None else value.astimezone(UTC)


def _day(value: Any) -> date:
    return value if type(value) is date else value.date()


def _percentile(values: list[float], p: float) -> float:
    """`percentile_cont`: linear interpolation between the closest ranks."""
    ordered = sorted(values)
    pos = p * (len(ordered) - 1)
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)
