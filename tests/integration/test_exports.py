"""End to end: recipient exports from the sandbox into a real DuckDB file through dlt.

The event tables are loaded first with the source, then the export resources run against the
same pipeline. Exported actions are compared with the sandbox's export ground truth
(`exports.recipients`), derived ones with a recount of the sandbox's events; never with numbers
copied from the code.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

import dlt
import duckdb
import pendulum

from sources.np6 import np6_source, open_run
from sources.np6.exports import EXPORT_TABLES
from sources.np6_sandbox import exports as truth

START, END = "2026-10-01", "2026-10-04"  # the default sandbox account's whole span
KINDS = {"action_openers": "opens", "action_clickers": "clicks", "action_recipients": "all"}
EVENTS = {"opens": ("hit", "open"), "clicks": ("hit", "redirection"), "all": ("activation", None)}
FAR = timedelta(days=3650)  # the sandbox's events are weeks old: every action is active


def ms(value: str) -> int:
    return int(pendulum.parse(value).timestamp() * 1000)


def pipeline_for(tmp_path: Path, name: str = "exports_it") -> dlt.Pipeline:
    destination = dlt.destinations.duckdb(str(tmp_path / "warehouse.duckdb"))
    # not `make_pipeline`: a pipeline whose first load is a bare resource names its schema after
    # itself, and the curated import folder would receive an empty copy of it
    return dlt.pipeline(name, destination=destination, dataset_name="np6", pipelines_dir=str(tmp_path / "dlt"))


def load_events(pipeline: dlt.Pipeline, sandbox) -> None:
    source = np6_source(api_key=sandbox.api_key, base_url=sandbox.url, start_date=START,
                        resources=["hits", "activations"], range_start=START, range_end=END)
    pipeline.run(source, loader_file_format="parquet")


def load_exports(pipeline: dlt.Pipeline, sandbox, horizon: timedelta = FAR, action_ids=None, until=None) -> None:
    """One run of the recipient tables; `until` makes it a backfill ending there."""
    backfill = {"range_start": START, "range_end": until} if until else {}
    run = open_run(api_key=sandbox.api_key, base_url=sandbox.url, resources=list(EXPORT_TABLES), concurrency=2,
                   activity_horizon=f"{int(horizon.total_seconds())}s", action_ids=action_ids, **backfill)
    try:
        pipeline.run(np6_source(run), loader_file_format="parquet")
    finally:
        run.close()


def loaded(tmp_path: Path, table: str) -> list[tuple]:
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
        return con.sql(f'SELECT action_id, receiver_id, receiver_unicity, receiver_hash, epoch_ms(first_at), '
                       f'epoch_ms(last_at), "count", source FROM np6.{table} ORDER BY 1, 2').fetchall()


def exported(account, action_id: str, kind: str) -> list[tuple]:
    return [(action_id, r["id"], r["unicity"], r["hash"], ms(r["first"]), ms(r["last"]), r["count"], "export")
            for r in truth.recipients(account, action_id, kind)]  # fmt: skip


def recounted(account, action_id: str, kind: str) -> list[tuple]:
    """(action, receiver, first, last, count, 'derived') from the sandbox's events themselves:
    human hits only (a robot classification is nobody opening or clicking)."""
    event_type, hit_type = EVENTS[kind]
    tally: dict[str, list[int]] = defaultdict(list)
    for event in account.events(ms(START), ms(END), types=event_type, action_id=action_id, hit_types=hit_type):
        if event["source"]["detail"].get("client", {}).get("classification"):
            continue
        receiver = event["source"]["detail"]["activation"]["receiver"]
        tally[receiver["id"] if receiver["type"] == "footprint" else receiver["value"]].append(event["timestamp"])
    return [(action_id, r, min(t), max(t), len(t), "derived") for r, t in sorted(tally.items())]


def expected(account, table: str) -> tuple[list[tuple], list[tuple]]:
    """The rows the export routes give, and the rows to derive (without unicity and hash)."""
    kind, rows, derived = KINDS[table], [], []
    for action_id in account.action_ids():
        if kind != "all" and truth.export_format(account, action_id) is not None:
            rows += exported(account, action_id, kind)
        else:
            derived += recounted(account, action_id, kind)
    return rows, derived


def test_exports_land_exactly_and_a_rerun_adds_nothing(sandbox, tmp_path, caplog):
    pipeline = pipeline_for(tmp_path)
    load_events(pipeline, sandbox)
    caplog.set_level(logging.INFO, logger="np6.exports")
    load_exports(pipeline, sandbox)
    account = sandbox.account
    formats = {truth.export_format(account, a) for a in account.action_ids()}
    assert formats == {"json", "csv", None}  # every kind of answer is exercised
    first = {}
    for table in EXPORT_TABLES:
        rows, derived = expected(account, table)
        got = loaded(tmp_path, table)
        first[table] = got
        assert [r for r in got if r[-1] == "export"] == sorted(rows), table
        assert [(a, r, f, l, c, s) for a, r, _, _, f, l, c, s in got if s == "derived"] == sorted(derived), table
        assert derived and (rows or table == "action_recipients")
    assert any("no export (empty answer" in m for m in caplog.messages)
    load_exports(pipeline, sandbox)
    for table in EXPORT_TABLES:
        assert loaded(tmp_path, table) == first[table], table


def _export_requests(sandbox) -> dict[str, int]:
    return {route: n for route, n in sandbox.server.stats()["by_route"].items() if "/export/" in route}


def test_only_actions_whose_events_changed_are_exported_again(sandbox, tmp_path):
    pipeline = pipeline_for(tmp_path)
    load_events(pipeline, sandbox)
    load_exports(pipeline, sandbox)
    first = {table: loaded(tmp_path, table) for table in EXPORT_TABLES}
    sandbox.server.reset_stats()
    load_events(pipeline, sandbox)  # the same events merged again, as a lookback re-reads them
    load_exports(pipeline, sandbox)
    assert _export_requests(sandbox) == {}
    assert {table: loaded(tmp_path, table) for table in EXPORT_TABLES} == first
    changed = sandbox.account.action_ids()[0]
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:  # one of its events went away
        con.execute("DELETE FROM np6.hits WHERE id = (SELECT min(id) FROM np6.hits WHERE action_id = ?)", [changed])
    load_exports(pipeline, sandbox)
    assert _export_requests(sandbox) == {"/actions/{id}/export/tracking/opens": 1,
                                         "/actions/{id}/export/tracking/clicks": 1}  # fmt: skip


def test_given_actions_and_the_horizon_choose_what_is_read(sandbox, tmp_path):
    pipeline = pipeline_for(tmp_path)
    load_events(pipeline, sandbox)
    load_exports(pipeline, sandbox, horizon=timedelta(days=1))  # nothing happened in the last day
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
        tables = {r[0] for r in con.sql("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'np6'").fetchall()}
    assert not tables & set(EXPORT_TABLES)
    account = sandbox.account
    chosen = account.action_ids()[:2]  # one JSON, one CSV export
    load_exports(pipeline, sandbox, action_ids=chosen)
    assert loaded(tmp_path, "action_openers") == sorted(r for a in chosen for r in exported(account, a, "opens"))
    # a backfill's horizon ends with its range: the actions active on the range's last day
    last_day = pendulum.parse(END).subtract(days=1)
    load_exports(pipeline, sandbox, horizon=timedelta(days=1), until=pendulum.parse(END))
    active = {e["source"]["detail"]["activation"]["id"]
              for e in sandbox.account.events(ms(last_day.to_iso8601_string()), ms(END), types=["activation", "hit"])}
    assert active and {r[0] for r in loaded(tmp_path, "action_recipients")} == active | set(chosen)


def test_without_event_tables_it_warns_and_loads_nothing(sandbox, tmp_path, caplog):
    pipeline = pipeline_for(tmp_path, "exports_first")
    caplog.set_level(logging.WARNING, logger="np6.exports")
    load_exports(pipeline, sandbox)
    warnings = [m for m in caplog.messages if "load them first" in m]
    assert len(warnings) == len(EXPORT_TABLES)
    assert not [r for r in sandbox.server.stats()["by_route"] if "export" in r]


def test_an_action_without_export_is_derived_from_its_events(sandbox, tmp_path, caplog):
    pipeline = pipeline_for(tmp_path)
    load_events(pipeline, sandbox)
    caplog.set_level(logging.INFO, logger="np6.exports")
    account = sandbox.account
    load_exports(pipeline, sandbox, action_ids=["NOSUCH", account.action_ids()[0]])
    assert any("NOSUCH" in m and "404" in m for m in caplog.messages)
    assert loaded(tmp_path, "action_openers") == exported(account, account.action_ids()[0], "opens")


def test_a_scheduled_run_re_exports_only_actions_with_new_events(sandbox, tmp_path):
    pipeline = pipeline_for(tmp_path)
    load_events(pipeline, sandbox)
    load_exports(pipeline, sandbox)
    first = dict(sandbox.server.stats()["by_route"])
    assert first.get("/actions/{id}/export/tracking/opens") == len(sandbox.account.action_ids())
    before = loaded(tmp_path, "action_recipients")
    load_exports(pipeline, sandbox)  # nothing new was loaded: nothing to export again
    again = sandbox.server.stats()["by_route"]
    assert again.get("/actions/{id}/export/tracking/opens") == first["/actions/{id}/export/tracking/opens"]
    assert loaded(tmp_path, "action_recipients") == before
